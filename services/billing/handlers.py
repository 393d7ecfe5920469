"""Kafka entrypoints of billing: parse, then call the service layer."""

from services.billing import service
from services.contracts import topics
from services.contracts.customers import CustomerCreatedV1, CustomerOrderPlacedV1
from services.runtime.consumer import Delivery
from services.runtime.service_app import Runtime


def register(rt: Runtime) -> None:
    on = rt.consumer.on

    @on(topics.CUSTOMERS_EVENTS, CustomerCreatedV1)
    async def customer_created(d: Delivery, data: CustomerCreatedV1) -> None:
        if data.order is not None:
            await service.apply_order(
                d.session, rt.outbox, customer_id=data.customer_id, order=data.order, payment=None
            )

    @on(topics.CUSTOMERS_EVENTS, CustomerOrderPlacedV1)
    async def order_placed(d: Delivery, data: CustomerOrderPlacedV1) -> None:
        await service.apply_order(
            d.session,
            rt.outbox,
            customer_id=data.customer_id,
            order=data.order,
            payment=data.payment,
        )
