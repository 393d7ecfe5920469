"""Kafka entrypoints of the customers service: parse, then call the service layer."""

from collections.abc import Sequence
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts import topics
from services.contracts.apps import (
    AppProfileCreatedV1,
    AppProfileDeletedV1,
    AppProfileUpdatedV1,
    DeviceConnectedV1,
)
from services.contracts.billing import (
    SubscriptionActivatedV1,
    SubscriptionCancelledV1,
    SubscriptionExpiredV1,
    SubscriptionRejectedV1,
)
from services.contracts.webshop import OrderPaidV1
from services.customers import service, status, webshop_orders
from services.customers.account import service as account
from services.customers.profiles import app_events as app_profiles
from services.runtime.consumer import Delivery, Incoming, traced_each
from services.runtime.service_app import Runtime


def register(rt: Runtime) -> None:
    on = rt.consumer.on

    async def order_invalid(d: Delivery, reason: str) -> None:
        await webshop_orders.handle_invalid_order(d.session, rt.outbox, d.event, reason)

    # A burst of orders (month end, a promotion): a partition's run of them together, each
    # batch's events in one outbox insert.
    @rt.consumer.on_batch(topics.WEBSHOP_ORDERS, OrderPaidV1, invalid=order_invalid)
    async def orders_paid(session: AsyncSession, batch: Sequence[Incoming]) -> None:
        pending = rt.outbox.pending()
        await webshop_orders.handle_orders_paid(
            session,
            pending,
            [cast(OrderPaidV1, item.data) for item in batch],
            traced=traced_each(batch),
        )
        await pending.flush(session)

    @rt.consumer.on_batch(topics.BILLING_EVENTS, SubscriptionActivatedV1)
    async def subscriptions_activated(session: AsyncSession, batch: Sequence[Incoming]) -> None:
        pending = rt.outbox.pending()
        await service.handle_subscriptions_activated(
            session,
            pending,
            [cast(SubscriptionActivatedV1, item.data) for item in batch],
            traced=traced_each(batch),
        )
        await pending.flush(session)

    @on(topics.BILLING_EVENTS, SubscriptionRejectedV1)
    async def subscription_rejected(d: Delivery, data: SubscriptionRejectedV1) -> None:
        await service.handle_subscription_rejected(d.session, rt.outbox, data)

    @on(topics.BILLING_EVENTS, SubscriptionCancelledV1)
    async def subscription_cancelled(d: Delivery, data: SubscriptionCancelledV1) -> None:
        await status.handle_cancelled(d.session, data)

    # A month end expires thousands at once: a partition's run of them in one statement.
    @rt.consumer.on_batch(topics.BILLING_EVENTS, SubscriptionExpiredV1)
    async def subscriptions_expired(session: AsyncSession, batch: Sequence[Incoming]) -> None:
        await status.handle_expired_batch(
            session, [cast(SubscriptionExpiredV1, item.data) for item in batch]
        )

    # The closest thing to a login the apps report: see account.py.
    @on(topics.APPS_EVENTS, DeviceConnectedV1)
    async def device_connected(d: Delivery, data: DeviceConnectedV1) -> None:
        await account.handle_device_connected(d.session, data)

    @on(topics.APPS_EVENTS, AppProfileCreatedV1)
    async def app_profile_created(d: Delivery, data: AppProfileCreatedV1) -> None:
        await app_profiles.created(d.session, rt.outbox, data)

    @on(topics.APPS_EVENTS, AppProfileUpdatedV1)
    async def app_profile_updated(d: Delivery, data: AppProfileUpdatedV1) -> None:
        await app_profiles.updated(d.session, data)

    @on(topics.APPS_EVENTS, AppProfileDeletedV1)
    async def app_profile_deleted(d: Delivery, data: AppProfileDeletedV1) -> None:
        await app_profiles.deleted(d.session, rt.outbox, data)
