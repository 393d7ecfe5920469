"""Every Kafka topic of the system and its partition count, declared once.

Keys are customer ids (order ids on webshop.replies), so one customer's events stay in order.
"""

import os
from typing import Final

PARTITIONS: Final = 6

# Lets several systems share one broker (test runs, staging beside production): every topic
# and consumer group name starts with it. Empty by default.
PREFIX: Final = os.environ.get("KAFKA_TOPIC_PREFIX", "")

CUSTOMERS_EVENTS: Final = f"{PREFIX}customers.events"
BILLING_EVENTS: Final = f"{PREFIX}billing.events"
TICKETS_EVENTS: Final = f"{PREFIX}tickets.events"
ACTIVITY_EVENTS: Final = f"{PREFIX}activity.events"
WEBSHOP_ORDERS: Final = f"{PREFIX}webshop.orders"
WEBSHOP_REPLIES: Final = f"{PREFIX}webshop.replies"
APPS_EVENTS: Final = f"{PREFIX}apps.events"
APPS_COMMANDS: Final = f"{PREFIX}apps.commands"

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
