"""Kafka entrypoints of the activity service."""

from services.activity import service
from services.contracts import topics
from services.contracts.billing import SubscriptionActivatedV1
from services.runtime.consumer import Delivery
from services.runtime.service_app import Runtime


def register(rt: Runtime) -> None:
    @rt.consumer.on(topics.BILLING_EVENTS, SubscriptionActivatedV1)
    async def subscription_activated(d: Delivery, data: SubscriptionActivatedV1) -> None:
        await service.follow_subscription(d.session, rt.outbox, data)
