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


def render(template: Template, **values: str) -> tuple[str, str]:
    return template.title.format(**values), template.body.format(**values)
