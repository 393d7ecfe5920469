"""Kafka entrypoints of the activity service: parse, then call the rules."""

from collections.abc import Sequence
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from services.activity import app_items, app_reports, customer_events, profiles
from services.activity.config import ActivitySettings
from services.contracts import topics
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
from services.runtime.consumer import Delivery, Incoming, traced_each
from services.runtime.service_app import Runtime


def register(rt: Runtime) -> None:
    on = rt.consumer.on
    settings = rt.settings_as(ActivitySettings)

    # Every order's renewal or opening: a partition's run set-based.
    @rt.consumer.on_batch(topics.BILLING_EVENTS, SubscriptionActivatedV1)
    async def subscriptions_activated(session: AsyncSession, batch: Sequence[Incoming]) -> None:
        await customer_events.follow_subscriptions(
            session,
            rt.outbox,
            [cast(SubscriptionActivatedV1, item.data) for item in batch],
            traced=traced_each(batch),
        )

    # A month end ends thousands at once: a partition's run of them set-based.
    @rt.consumer.on_batch(topics.BILLING_EVENTS, SubscriptionCancelledV1, SubscriptionExpiredV1)
    async def subscriptions_ended(session: AsyncSession, batch: Sequence[Incoming]) -> None:
        await customer_events.end_subscriptions(
            session,
            rt.outbox,
            [cast(SubscriptionCancelledV1 | SubscriptionExpiredV1, item.data) for item in batch],
            traced=traced_each(batch),
        )

    @on(topics.CUSTOMERS_EVENTS, AccountUpdatedV1)
    async def account_updated(d: Delivery, data: AccountUpdatedV1) -> None:
        await customer_events.follow_account(d.session, rt.outbox, data)

    # Every new customer's default profile: a partition's run of announcements set-based.
    @rt.consumer.on_batch(topics.CUSTOMERS_EVENTS, ProfileCreatedV1)
    async def profiles_created(session: AsyncSession, batch: Sequence[Incoming]) -> None:
        await profiles.learn(
            session,
            rt.consumer,
            [cast(ProfileCreatedV1, item.data) for item in batch],
            app_items.apply,
            traced=traced_each(batch),
        )

    @on(topics.CUSTOMERS_EVENTS, ProfileDeletedV1)
    async def profile_deleted(d: Delivery, data: ProfileDeletedV1) -> None:
        await customer_events.delete_profile(d.session, data)

    @on(topics.CUSTOMERS_EVENTS, CustomerErasedV1)
    async def customer_erased(d: Delivery, data: CustomerErasedV1) -> None:
        await customer_events.erase_customer(d.session, rt.outbox, data)

    # Every report of the apps, a partition's batch at a time (a fleet's heartbeats).
    @rt.consumer.on_batch(topics.APPS_EVENTS, *app_reports.HANDLED)
    async def apps_reported(session: AsyncSession, batch: Sequence[Incoming]) -> None:
        await app_reports.apply(
            session, rt.outbox, batch, default_policy=settings.default_device_policy
        )
