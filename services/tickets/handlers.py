"""Kafka entrypoints of the tickets service."""

from collections.abc import Sequence
from itertools import groupby
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts import topics
from services.contracts.apps import MessageReadV1, TicketRepliedV1
from services.contracts.billing import (
    SubscriptionActivatedV1,
    SubscriptionExpiredV1,
    SubscriptionExpiringV1,
)
from services.contracts.customers import CustomerCreatedV1, CustomerErasedV1, CustomerUpdatedV1
from services.runtime.consumer import Delivery, Incoming, traced_each
from services.runtime.service_app import Runtime
from services.tickets import conversations, erasure, service


def register(rt: Runtime) -> None:
    on = rt.consumer.on

    # Every new buyer's customer.created, every edit: a partition's run together.
    @rt.consumer.on_batch(topics.CUSTOMERS_EVENTS, CustomerCreatedV1, CustomerUpdatedV1)
    async def customers_changed(session: AsyncSession, batch: Sequence[Incoming]) -> None:
        await service.remember_customers(
            session,
            rt.outbox,
            [cast(CustomerCreatedV1 | CustomerUpdatedV1, item.data) for item in batch],
            traced=traced_each(batch),
        )

    @on(topics.CUSTOMERS_EVENTS, CustomerErasedV1)
    async def customer_erased(d: Delivery, data: CustomerErasedV1) -> None:
        await erasure.erase_customer(d.session, data.customer_id, data.erased_at)

    # Every order's renewal or opening: a partition's run together, renewals skipped at once.
    @rt.consumer.on_batch(topics.BILLING_EVENTS, SubscriptionActivatedV1)
    async def subscriptions_activated(session: AsyncSession, batch: Sequence[Incoming]) -> None:
        await service.welcome_on_first_subscriptions(
            session,
            rt.outbox,
            [cast(SubscriptionActivatedV1, item.data) for item in batch],
            traced=traced_each(batch),
        )

    # A month end (and the week before it) brings thousands: a partition's run set-based.
    @rt.consumer.on_batch(topics.BILLING_EVENTS, SubscriptionExpiringV1, SubscriptionExpiredV1)
    async def subscriptions_ending(session: AsyncSession, batch: Sequence[Incoming]) -> None:
        pending = rt.outbox.pending()
        # Each stretch of one type in arrival order, so a customer's messages keep theirs.
        for expiring, run in groupby(batch, lambda i: isinstance(i.data, SubscriptionExpiringV1)):
            stretch = list(run)
            data = [item.data for item in stretch]
            if expiring:
                await service.messages_on_expiring(
                    session,
                    pending,
                    cast(list[SubscriptionExpiringV1], data),
                    traced=traced_each(stretch),
                )
            else:
                await service.messages_on_expired(
                    session,
                    pending,
                    cast(list[SubscriptionExpiredV1], data),
                    traced=traced_each(stretch),
                )
        await pending.flush(session)

    @on(topics.APPS_EVENTS, MessageReadV1)
    async def message_read(d: Delivery, data: MessageReadV1) -> None:
        await service.mark_read(d.session, data)

    @on(topics.APPS_EVENTS, TicketRepliedV1)
    async def ticket_replied(d: Delivery, data: TicketRepliedV1) -> None:
        await conversations.customer_replied(d.session, data)
