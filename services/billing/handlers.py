"""Kafka entrypoints of billing: parse, then call the service layer."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.billing import lifecycle, rebinding, service
from services.contracts import topics
from services.contracts.apps import DeviceConnectedV1
from services.contracts.customers import (
    CustomerCreatedV1,
    CustomerErasedV1,
    CustomerOrderPlacedV1,
    CustomerUpdatedV1,
    SubscriptionOrder,
)
from services.contracts.envelope import CloudEvent
from services.contracts.webshop import OrderRefundedV1
from services.runtime.consumer import Delivery, Incoming, Traced
from services.runtime.db import utcnow
from services.runtime.outbox import EventSink
from services.runtime.service_app import Runtime


def register(rt: Runtime) -> None:
    on = rt.consumer.on

    async def release_parked_refund(
        session: AsyncSession, outbox: EventSink, order: SubscriptionOrder
    ) -> None:
        refused = await lifecycle.release_parked_refund(
            session, outbox, order.webshop_id, order.order_id, now=utcnow()
        )
        if refused is not None:
            # Sent before the order's transaction commits: a retry may send it twice, which a
            # dead-letter topic tolerates; losing it would drop the refusal silently.
            # As a CloudEvent, so that the dead-letter desk can replay it to billing once the
            # cause is fixed; the id is fixed per order, so a resend is one event to the inbox.
            event = CloudEvent.wrap(
                OrderRefundedV1.model_validate_json(refused.payload),
                source="/services/billing/parked-refunds",
                subject=None,
                event_id=f"parked-refund:{order.webshop_id}:{order.order_id}",
            )
            await rt.consumer.dead_letter_value(
                topics.WEBSHOP_ORDERS,
                value=event.to_bytes(),
                key=refused.order_id.encode(),
                reason=f"parked order.refunded.v1 refused: {refused.reason}",
            )

    # Orders come as customer.order_placed (webshops) or in customer.created (an operator's
    # sale; a webshop's new buyer carries none): a partition's run of both applied together.
    @rt.consumer.on_batch(topics.CUSTOMERS_EVENTS, CustomerCreatedV1, CustomerOrderPlacedV1)
    async def orders(session: AsyncSession, batch: Sequence[Incoming]) -> None:
        placed = []
        sources: list[Incoming] = []  # the event each order came in, for its trace
        for item in batch:
            data = item.data
            if isinstance(data, CustomerOrderPlacedV1):
                placed.append(service.PlacedOrder(data.customer_id, data.order, data.payment))
                sources.append(item)
            elif isinstance(data, CustomerCreatedV1) and data.order is not None:
                placed.append(service.PlacedOrder(data.customer_id, data.order))
                sources.append(item)

        def traced_from(first: int) -> Traced:
            return lambda i: sources[first + i].traced()

        pending = rt.outbox.pending()
        parked = await lifecycle.parked_refunds(
            session, [(p.order.webshop_id, p.order.order_id) for p in placed]
        )
        # A refund that waited for its order is applied right after that order, before the
        # customer's next: the orders are applied in runs that end at such an order.
        start = 0
        for end, order in enumerate(placed, start=1):
            waiting = (order.order.webshop_id, order.order.order_id) in parked
            if waiting or end == len(placed):
                await service.apply_orders(
                    session,
                    pending,
                    placed[start:end],
                    traced=traced_from(start),
                )
                start = end
            if waiting:
                await release_parked_refund(session, pending, order.order)
        await pending.flush(session)

    # The subscription follows its customer to another webshop (from the next renewal or change).
    @on(topics.CUSTOMERS_EVENTS, CustomerUpdatedV1)
    async def customer_updated(d: Delivery, data: CustomerUpdatedV1) -> None:
        if "webshop_id" in data.changed_fields:
            await rebinding.follow_webshop(
                d.session, data.customer_id, data.webshop_id, at=data.updated_at
            )

    @on(topics.CUSTOMERS_EVENTS, CustomerErasedV1)
    async def customer_erased(d: Delivery, data: CustomerErasedV1) -> None:
        await lifecycle.erase_customer(d.session, data.customer_id)

    # Only the first connection matters here: it starts a first-login product.
    @on(topics.APPS_EVENTS, DeviceConnectedV1)
    async def device_connected(d: Delivery, data: DeviceConnectedV1) -> None:
        await lifecycle.start_on_first_login(
            d.session, rt.outbox, data.customer_id, data.connected_at
        )

    # Refunds are read straight from the webshops' topic: billing recorded the order under its
    # (webshop, order id), which is all a refund carries; customers has nothing to add.
    @on(topics.WEBSHOP_ORDERS, OrderRefundedV1)
    async def order_refunded(d: Delivery, data: OrderRefundedV1) -> None:
        await lifecycle.record_refund(d.session, rt.outbox, data, now=utcnow())
