"""Every Kafka topic of the system and its partition count, declared once.

Keys are customer ids (order ids on webshop.replies), so one customer's events stay in order.
The names here are the system's own; on the broker each carries the deployment's
`KAFKA_TOPIC_PREFIX` (a service setting), which the runtime adds where it meets Kafka (the
consumer, the outbox relay, the dead letters, the topic admin). Outbox rows and handlers use
these names, so several systems can share one broker without the code knowing.
"""

from typing import Final

PARTITIONS: Final = 6

CUSTOMERS_EVENTS: Final = "customers.events"
BILLING_EVENTS: Final = "billing.events"
TICKETS_EVENTS: Final = "tickets.events"
ACTIVITY_EVENTS: Final = "activity.events"
WEBSHOP_ORDERS: Final = "webshop.orders"
WEBSHOP_REPLIES: Final = "webshop.replies"
APPS_EVENTS: Final = "apps.events"
APPS_COMMANDS: Final = "apps.commands"

MAIN_TOPICS: Final = (
    CUSTOMERS_EVENTS,
    BILLING_EVENTS,
    TICKETS_EVENTS,
    ACTIVITY_EVENTS,
    WEBSHOP_ORDERS,
    WEBSHOP_REPLIES,
    APPS_EVENTS,
    APPS_COMMANDS,
)


def dlq(topic: str) -> str:
    """The dead-letter topic of `topic`."""
    return f"{topic}.dlq"


ALL_TOPICS: Final = MAIN_TOPICS + tuple(dlq(t) for t in MAIN_TOPICS)
