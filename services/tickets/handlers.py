"""Kafka entrypoints of the tickets service."""

from services.contracts import topics
from services.contracts.billing import SubscriptionActivatedV1
from services.contracts.customers import CustomerCreatedV1
from services.runtime.consumer import Delivery
from services.runtime.service_app import Runtime
from services.tickets import service


def register(rt: Runtime) -> None:
    on = rt.consumer.on

    @on(topics.CUSTOMERS_EVENTS, CustomerCreatedV1)
    async def customer_created(d: Delivery, data: CustomerCreatedV1) -> None:
        await service.remember_customer(d.session, rt.outbox, data)

    @on(topics.BILLING_EVENTS, SubscriptionActivatedV1)
    async def subscription_activated(d: Delivery, data: SubscriptionActivatedV1) -> None:
        await service.welcome_on_first_subscription(d.session, rt.outbox, data)
