"""Kafka entrypoints of the tickets service."""

from services.contracts import topics
from services.contracts.apps import MessageReadV1, TicketRepliedV1
from services.contracts.billing import (
    SubscriptionActivatedV1,
    SubscriptionExpiredV1,
    SubscriptionExpiringV1,
)
from services.contracts.customers import CustomerCreatedV1, CustomerErasedV1, CustomerUpdatedV1
from services.runtime.consumer import Delivery
from services.runtime.service_app import Runtime
from services.tickets import conversations, erasure, service


def register(rt: Runtime) -> None:
    on = rt.consumer.on

    @on(topics.CUSTOMERS_EVENTS, CustomerCreatedV1)
    async def customer_created(d: Delivery, data: CustomerCreatedV1) -> None:
        await service.remember_customer(d.session, rt.outbox, data)

    @on(topics.CUSTOMERS_EVENTS, CustomerUpdatedV1)
    async def customer_updated(d: Delivery, data: CustomerUpdatedV1) -> None:
        await service.update_customer(d.session, data)

    @on(topics.CUSTOMERS_EVENTS, CustomerErasedV1)
    async def customer_erased(d: Delivery, data: CustomerErasedV1) -> None:
        await erasure.erase_customer(d.session, data.customer_id, data.erased_at)

    @on(topics.BILLING_EVENTS, SubscriptionActivatedV1)
    async def subscription_activated(d: Delivery, data: SubscriptionActivatedV1) -> None:
        await service.welcome_on_first_subscription(d.session, rt.outbox, data)

    @on(topics.BILLING_EVENTS, SubscriptionExpiringV1)
    async def subscription_expiring(d: Delivery, data: SubscriptionExpiringV1) -> None:
        await service.message_on_expiring(d.session, rt.outbox, data)

    @on(topics.BILLING_EVENTS, SubscriptionExpiredV1)
    async def subscription_expired(d: Delivery, data: SubscriptionExpiredV1) -> None:
        await service.message_on_expired(d.session, rt.outbox, data)

    @on(topics.APPS_EVENTS, MessageReadV1)
    async def message_read(d: Delivery, data: MessageReadV1) -> None:
        await service.mark_read(d.session, data)

    @on(topics.APPS_EVENTS, TicketRepliedV1)
    async def ticket_replied(d: Delivery, data: TicketRepliedV1) -> None:
        await conversations.customer_replied(d.session, data)
