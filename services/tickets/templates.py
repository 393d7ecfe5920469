"""Texts of the system messages sent on billing's events."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    body: str


WELCOME = Template(
    name="welcome",
    title="Welcome, {first_name}!",
    body="Your {product} subscription is ready. Enjoy watching.",
)

EXPIRING = Template(
    name="expiring",
    title="Your subscription ends soon",
    body=(
        "Hello {first_name}, your {product} subscription ends on {date} ({days_left} left). "
        "Renew it to keep watching."
    ),
)

EXPIRED = Template(
    name="expired",
    title="Your subscription has ended",
    body="Hello {first_name}, your {product} subscription ended on {date}. Renew any time.",
)


def render(template: Template, **values: str) -> tuple[str, str]:
    return template.title.format(**values), template.body.format(**values)
