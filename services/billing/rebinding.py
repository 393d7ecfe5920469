"""A customer moved to another webshop: what that means for the subscription before the move
(`check_move`, asked by the gateway before it saves), and following the move when
customer.updated.v1 says it happened (`follow_webshop`).

The move takes effect from the next renewal or change: the period already paid runs on as sold,
and every later sale is checked against the new webshop's catalog and priced in its currency."""

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.models import Subscription, SubscriptionHistory, Webshop
from services.billing.pricing import price_of
from services.billing.schemas import OrderCheck, WebshopMove
from services.billing.service import OrderRefused, find_subscription, resolve_sale

# Subscriptions whose product the new webshop must sell: renewing them is the next sale.
CARRIED = ("pending", "trial", "active")


async def check_move(session: AsyncSession, customer_id: str, webshop_id: str) -> WebshopMove:
    """Whether the customer may move to `webshop_id`, and the price of the next renewal there."""
    webshop = await session.get(Webshop, webshop_id)
    if webshop is None or webshop.archived:
        state = "archived" if webshop else "unknown"
        return WebshopMove(
            webshop_id=webshop_id, allowed=False, reason=f"webshop {webshop_id!r} is {state}"
        )
    subscription = await find_subscription(session, customer_id)
    if subscription is None or subscription.status not in CARRIED:
        return WebshopMove(webshop_id=webshop_id, allowed=True)
    move = WebshopMove(
        webshop_id=webshop_id,
        allowed=True,
        current_webshop_id=subscription.webshop_id,
        product_id=subscription.product_id,
        plan_id=subscription.plan_id,
    )
    try:
        sale = await resolve_sale(
            session,
            OrderCheck(
                webshop_id=webshop_id,
                product_id=subscription.product_id,
                plan_id=subscription.plan_id,
                extra_product_ids=list(subscription.extra_product_ids or []),
            ),
        )
    except OrderRefused as refused:
        return move.model_copy(
            update={
                "allowed": False,
                "reason": f"{refused.reason}: change the product to one it sells first",
            }
        )
    price, currency = price_of(sale.plan, sale.webshop)
    return move.model_copy(update={"renewal_price": price, "currency": currency})


async def follow_webshop(
    session: AsyncSession, customer_id: str, webshop_id: str, *, at: datetime
) -> bool:
    """The subscription moves with its customer; the current period stays as it was sold."""
    subscription = await session.scalar(
        select(Subscription).where(Subscription.customer_id == customer_id).with_for_update()
    )
    if subscription is None or subscription.webshop_id == webshop_id:
        return False
    previous = subscription.webshop_id
    subscription.webshop_id = webshop_id
    subscription.version = (subscription.version or 0) + 1
    subscription.updated_at = at
    session.add(
        SubscriptionHistory(
            id=str(uuid.uuid4()),
            customer_id=customer_id,
            kind="subscription.webshop_moved",
            summary=(
                f"Moved from webshop {previous} to {webshop_id}: "
                "from the next renewal or change it sells and prices there"
            ),
            ref=webshop_id,
            at=at,
        )
    )
    return True
