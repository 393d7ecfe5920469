"""Kafka entrypoints of the activity service: parse, then call the rules."""

from services.activity import access, customer_events, devices, recordings, saved_items
from services.activity.config import ActivitySettings
from services.contracts import topics
from services.contracts.apps import (
    DeviceConnectedV1,
    DeviceDisconnectedV1,
    DeviceHeartbeatV1,
    FavoriteAddedV1,
    FavoriteRemovedV1,
    RecordingCompletedV1,
    RecordingDeletedV1,
    RecordingFailedV1,
    RecordingScheduledV1,
    WatchlistAddedV1,
    WatchlistRemovedV1,
)
from services.contracts.billing import (
    SubscriptionActivatedV1,
    SubscriptionCancelledV1,
    SubscriptionExpiredV1,
)
from services.contracts.customers import AccountUpdatedV1, CustomerErasedV1, ProfileDeletedV1
from services.runtime.consumer import Delivery
from services.runtime.service_app import Runtime


def register(rt: Runtime) -> None:
    on = rt.consumer.on
    settings = rt.settings_as(ActivitySettings)

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

    # What an erased customer's apps still report is dropped, not stored again.
    @on(topics.APPS_EVENTS, FavoriteAddedV1)
    async def favorite_added(d: Delivery, data: FavoriteAddedV1) -> None:
        if not await access.erased(d.session, data.customer_id):
            await saved_items.add(d.session, "favorites", data)

    @on(topics.APPS_EVENTS, FavoriteRemovedV1)
    async def favorite_removed(d: Delivery, data: FavoriteRemovedV1) -> None:
        await saved_items.remove(d.session, "favorites", data)

    @on(topics.APPS_EVENTS, WatchlistAddedV1)
    async def watchlist_added(d: Delivery, data: WatchlistAddedV1) -> None:
        if not await access.erased(d.session, data.customer_id):
            await saved_items.add(d.session, "watchlist", data)

    @on(topics.APPS_EVENTS, WatchlistRemovedV1)
    async def watchlist_removed(d: Delivery, data: WatchlistRemovedV1) -> None:
        await saved_items.remove(d.session, "watchlist", data)

    @on(topics.APPS_EVENTS, RecordingScheduledV1)
    async def recording_scheduled(d: Delivery, data: RecordingScheduledV1) -> None:
        if not await access.erased(d.session, data.customer_id):
            await recordings.schedule(d.session, data)

    @on(topics.APPS_EVENTS, RecordingCompletedV1)
    async def recording_completed(d: Delivery, data: RecordingCompletedV1) -> None:
        await recordings.complete(d.session, data)

    @on(topics.APPS_EVENTS, RecordingFailedV1)
    async def recording_failed(d: Delivery, data: RecordingFailedV1) -> None:
        await recordings.fail(d.session, data)

    @on(topics.APPS_EVENTS, RecordingDeletedV1)
    async def recording_deleted(d: Delivery, data: RecordingDeletedV1) -> None:
        await recordings.delete_reported(d.session, data)
