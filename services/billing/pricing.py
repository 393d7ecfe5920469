"""What the catalog charges: a plan's price in a webshop's currency, extras prorated to a period,
and what a paid order must amount to."""

from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from services.billing.models import Plan, Product, Webshop
from services.billing.periods import add_period

CENT = Decimal("0.01")


def price_of(plan: Plan, webshop: Webshop) -> tuple[Decimal, str]:
    """The plan's price in the first of the webshop's currencies that the plan is priced in."""
    for currency in webshop.currencies:
        if currency in plan.prices:
            return Decimal(plan.prices[currency]), currency
    currency, price = next(iter(plan.prices.items()))
    return Decimal(price), currency


def plan_span(plan: Plan, at: datetime) -> timedelta:
    """How long one period of `plan` lasts when it starts at `at`."""
    return add_period(at, plan.length, plan.unit) - at


def prorate(price: Decimal, part: timedelta, whole: timedelta) -> Decimal:
    """`price` scaled by part/whole, to the cent (banker's rounding keeps sums unbiased)."""
    if whole <= timedelta(0) or part <= timedelta(0):
        return Decimal("0.00")
    share = Decimal(part.total_seconds()) / Decimal(whole.total_seconds())
    return (price * share).quantize(CENT, rounding=ROUND_HALF_EVEN)


def first_plan(product: Product) -> Plan | None:
    return next((p for p in product.plans if not p.archived), None)


def synced_extras_price(
    extras: list[Product], webshop: Webshop, currency: str, start: datetime, end: datetime
) -> Decimal:
    """What extras synced to the base cost for [start, end): each plan's price prorated."""
    total = Decimal(0)
    for extra in extras:
        plan = first_plan(extra)
        if plan is None or currency not in plan.prices:
            continue
        total += prorate(Decimal(plan.prices[currency]), end - start, plan_span(plan, start))
    return total


def order_total(
    plan: Plan, extras: list[Product], webshop: Webshop, currency: str, at: datetime
) -> Decimal:
    """What a paid order for `plan` and `extras` must amount to in `currency`: the plan's price
    plus each extra prorated to one period of the plan starting at `at` (the extra's full price
    when its plan is as long as the base plan's). Deterministic from the order alone, so a
    webshop can compute the same figure."""
    period_end = add_period(at, plan.length, plan.unit)
    return Decimal(plan.prices[currency]) + synced_extras_price(
        extras, webshop, currency, at, period_end
    )
