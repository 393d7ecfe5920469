"""Maps each topic's CloudEvents `type`s to their payload models, so consumers can parse any
topic.

A type names one payload per topic. `profile.created.v1` and `profile.deleted.v1` exist twice:
the apps report their profile changes on apps.events and the customers service announces the
changes it accepted on customers.events, each with its own payload.
"""

from pydantic import BaseModel

from services.contracts import activity, apps, billing, customers, tickets, webshop
from services.contracts.envelope import EventData

# Keyed by the topic's name without KAFKA_TOPIC_PREFIX.
TOPIC_EVENT_MODELS: dict[str, dict[str, type[EventData]]] = {
    topic: {model.event_type: model for model in models}
    for topic, models in {
        "customers.events": (
            customers.CustomerCreatedV1,
            customers.CustomerOrderPlacedV1,
            customers.CustomerUpdatedV1,
            customers.AccountUpdatedV1,
            customers.ProfileCreatedV1,
            customers.ProfileDeletedV1,
            customers.CustomerErasedV1,
        ),
        "billing.events": (
            billing.SubscriptionActivatedV1,
            billing.SubscriptionRejectedV1,
            billing.SubscriptionCancelledV1,
            billing.SubscriptionExpiringV1,
            billing.SubscriptionExpiredV1,
            billing.TransactionRecordedV1,
        ),
        "tickets.events": (tickets.MessageSentV1,),
        "activity.events": (
            activity.DeviceLimitChangedV1,
            activity.DeviceRegisteredV1,
            activity.DeviceRejectedV1,
            activity.DeviceUnboundV1,
        ),
        "apps.events": (
            apps.DeviceConnectedV1,
            apps.DeviceHeartbeatV1,
            apps.DeviceDisconnectedV1,
            apps.FavoriteAddedV1,
            apps.FavoriteRemovedV1,
            apps.WatchlistAddedV1,
            apps.WatchlistRemovedV1,
            apps.RecordingScheduledV1,
            apps.RecordingCompletedV1,
            apps.RecordingFailedV1,
            apps.RecordingDeletedV1,
            apps.MessageReadV1,
            apps.TicketRepliedV1,
            apps.AppProfileCreatedV1,
            apps.AppProfileUpdatedV1,
            apps.AppProfileDeletedV1,
        ),
        "apps.commands": (
            apps.MessageShowV1,
            apps.DeviceLogoutV1,
            apps.FavoriteRemoveV1,
            apps.WatchlistRemoveV1,
            apps.RecordingDeleteV1,
            apps.ProfileDeleteV1,
        ),
        "webshop.orders": (webshop.OrderPaidV1, webshop.OrderRefundedV1),
        "webshop.replies": (webshop.OrderAcceptedV1, webshop.OrderRejectedV1),
    }.items()
}

# Every type some topic carries: a record of another type is dead-lettered as unknown.
EVENT_TYPES: frozenset[str] = frozenset(
    event_type for models in TOPIC_EVENT_MODELS.values() for event_type in models
)

# The types that name one payload wherever they travel (all but the profile events above).
EVENT_MODELS: dict[str, type[EventData]] = {
    event_type: model
    for models in TOPIC_EVENT_MODELS.values()
    for event_type, model in models.items()
    if sum(event_type in other for other in TOPIC_EVENT_MODELS.values()) == 1
}


def json_schemas() -> dict[str, dict[str, object]]:
    """The JSON schema of every payload (the contract snapshot), keyed by event type, or by
    "topic type" for a type whose payload depends on its topic."""
    schemas: dict[str, dict[str, object]] = {}
    for topic, models in TOPIC_EVENT_MODELS.items():
        for event_type, model in models.items():
            key = event_type if event_type in EVENT_MODELS else f"{topic} {event_type}"
            schemas[key] = _schema(model)
    return dict(sorted(schemas.items()))


def _schema(model: type[BaseModel]) -> dict[str, object]:
    return model.model_json_schema(mode="serialization")
