"""Kafka entrypoints of the activity service: parse, then call the rules."""

from services.activity import app_items, customer_events, devices, profiles
from services.activity.config import activity_settings
from services.contracts import topics
from services.contracts.apps import (
    DeviceConnectedV1,
    DeviceDisconnectedV1,
    DeviceHeartbeatV1,
)
from services.contracts.billing import (
    SubscriptionActivatedV1,
    SubscriptionCancelledV1,
    SubscriptionExpiredV1,
)
from services.contracts.customers import (
    AccountUpdatedV1,
    CustomerErasedV1,
    ProfileCreatedV1,
    ProfileDeletedV1,
)
from services.contracts.envelope import EventData
from services.runtime.consumer import Delivery
from services.runtime.service_app import Runtime


def register(rt: Runtime) -> None:
    on = rt.consumer.on
    settings = activity_settings()

    @on(topics.BILLING_EVENTS, SubscriptionActivatedV1)
    async def subscription_activated(d: Delivery, data: SubscriptionActivatedV1) -> None:
        await customer_events.follow_subscription(d.session, rt.outbox, data)

    @on(topics.BILLING_EVENTS, SubscriptionCancelledV1)
    async def subscription_cancelled(d: Delivery, data: SubscriptionCancelledV1) -> None:
        await customer_events.end_subscription(d.session, rt.outbox, data)

    @on(topics.BILLING_EVENTS, SubscriptionExpiredV1)
    async def subscription_expired(d: Delivery, data: SubscriptionExpiredV1) -> None:
        await customer_events.end_subscription(d.session, rt.outbox, data)

    @on(topics.CUSTOMERS_EVENTS, AccountUpdatedV1)
    async def account_updated(d: Delivery, data: AccountUpdatedV1) -> None:
        await customer_events.follow_account(d.session, rt.outbox, data)

    @on(topics.CUSTOMERS_EVENTS, ProfileCreatedV1)
    async def profile_created(d: Delivery, data: ProfileCreatedV1) -> None:
        await profiles.learn(d.session, rt.consumer, data, app_items.apply)

    @on(topics.CUSTOMERS_EVENTS, ProfileDeletedV1)
    async def profile_deleted(d: Delivery, data: ProfileDeletedV1) -> None:
        await customer_events.delete_profile(d.session, data)

    @on(topics.CUSTOMERS_EVENTS, CustomerErasedV1)
    async def customer_erased(d: Delivery, data: CustomerErasedV1) -> None:
        await customer_events.erase_customer(d.session, rt.outbox, data)

    @on(topics.APPS_EVENTS, DeviceConnectedV1)
    async def device_connected(d: Delivery, data: DeviceConnectedV1) -> None:
        await devices.connect(
            d.session, rt.outbox, data, default_policy=settings.default_device_policy
        )

    @on(topics.APPS_EVENTS, DeviceHeartbeatV1)
    async def device_heartbeat(d: Delivery, data: DeviceHeartbeatV1) -> None:
        await devices.heartbeat(d.session, data)

    @on(topics.APPS_EVENTS, DeviceDisconnectedV1)
    async def device_disconnected(d: Delivery, data: DeviceDisconnectedV1) -> None:
        await devices.disconnect(d.session, data)

    # Favorites, watchlist and recordings: applied for a known profile, else held (profiles.py).
    async def item_reported(d: Delivery, data: EventData) -> None:
        await app_items.receive(d.session, d.event, data)

    for model in app_items.HANDLED:
        on(topics.APPS_EVENTS, model)(item_reported)
