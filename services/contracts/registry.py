"""Maps each CloudEvents `type` to its payload model, so consumers can parse any topic."""

from pydantic import BaseModel

from services.contracts import activity, apps, billing, customers, tickets, webshop
from services.contracts.envelope import EventData

EVENT_MODELS: dict[str, type[EventData]] = {
    model.event_type: model
    for model in (
        customers.CustomerCreatedV1,
        customers.CustomerOrderPlacedV1,
        customers.CustomerUpdatedV1,
        customers.AccountUpdatedV1,
        customers.ProfileCreatedV1,
        customers.ProfileDeletedV1,
        customers.CustomerErasedV1,
        billing.SubscriptionActivatedV1,
        billing.SubscriptionRejectedV1,
        billing.SubscriptionCancelledV1,
        billing.SubscriptionExpiringV1,
        billing.SubscriptionExpiredV1,
        billing.TransactionRecordedV1,
        tickets.MessageSentV1,
        activity.DeviceLimitChangedV1,
        activity.DeviceRegisteredV1,
        activity.DeviceRejectedV1,
        activity.DeviceUnboundV1,
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
        apps.MessageShowV1,
        apps.DeviceLogoutV1,
        webshop.OrderPaidV1,
        webshop.OrderRefundedV1,
        webshop.OrderAcceptedV1,
        webshop.OrderRejectedV1,
    )
}


def json_schemas() -> dict[str, dict[str, object]]:
    """The JSON schema of every payload, keyed by event type (the contract snapshot)."""
    return {name: _schema(model) for name, model in sorted(EVENT_MODELS.items())}


def _schema(model: type[BaseModel]) -> dict[str, object]:
    return model.model_json_schema(mode="serialization")
