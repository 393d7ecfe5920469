"""A trial product is sold once per customer: the ledger, which keeps every sale's plan, says
whether the customer already had it. Only an operator's sale may repeat it, when an admin says
so (the gateway lets only admins set `repeat_trial`); a webshop order never may."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.models import LedgerTransaction, Plan, Product


async def had_product(session: AsyncSession, customer_id: str, product_id: str) -> bool:
    """Whether any ledger entry of the customer paid for a plan of the product."""
    plans = select(Plan.id).where(Plan.product_id == product_id)
    found = await session.scalar(
        select(LedgerTransaction.id)
        .where(LedgerTransaction.customer_id == customer_id, LedgerTransaction.plan_id.in_(plans))
        .limit(1)
    )
    return found is not None


async def repeated_trial(
    session: AsyncSession, customer_id: str, product: Product, *, repeat_allowed: bool = False
) -> str | None:
    """Why selling `product` is refused when it is a trial the customer already had (the
    caller refuses with this reason on product_id), else None."""
    if product.subscription_type != "trial" or repeat_allowed:
        return None
    if not await had_product(session, customer_id, product.id):
        return None
    return (
        f"the customer already had the trial {product.id!r}: a trial is sold once per customer "
        "(an admin may repeat it with repeat_trial)"
    )
