"""Subscription actions an operator takes through the gateway: sell one to a customer without a
running subscription, renew, change, set the expiry, add or remove an extra, cancel. Each writes
one ledger entry (a sale the operator says was paid also its payment) and one event."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing import events
from services.billing.models import (
    LedgerTransaction,
    Plan,
    Product,
    Subscription,
    SubscriptionExtra,
    Webshop,
)
from services.billing.periods import MAX_YEARS_AHEAD, add_period, to_utc
from services.billing.pricing import first_plan, plan_span, price_of, prorate, synced_extras_price
from services.billing.schemas import (
    ActionResult,
    CancelIn,
    ChangeIn,
    ExpiryIn,
    ExtraIn,
    OpenIn,
    OrderCheck,
    RenewIn,
)
from services.billing.service import (
    LedgerKind,
    OrderRefused,
    Sale,
    fresh_period,
    record_entry,
    renewal_base,
    replace_extras,
    resolve_sale,
    running_status,
    settle,
    subscription_public,
    transaction_public,
)
from services.billing.trials import repeated_trial
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem, field_error


class Action(Protocol):
    """The shape of an action taking a request body (all but removing an extra)."""

    async def __call__(
        self,
        session: AsyncSession,
        outbox: Outbox,
        customer_id: str,
        body: Any,
        *,
        now: datetime,
    ) -> ActionResult: ...


RUNNING = ("active", "trial")


def refused(field: str, message: str, status: int = 422, title: str = "Not allowed") -> Problem:
    return Problem(status, title, message, errors=[field_error(field, message)])


def conflict(message: str) -> Problem:
    return Problem(409, "Subscription state conflict", message)


async def load_for_update(session: AsyncSession, customer_id: str) -> Subscription:
    """The customer's subscription, row-locked on PostgreSQL so actions on it queue up."""
    subscription = await session.scalar(
        select(Subscription).where(Subscription.customer_id == customer_id).with_for_update()
    )
    if subscription is None:
        raise Problem(404, "No subscription", f"customer {customer_id} has no subscription")
    return subscription


async def check_sale(session: AsyncSession, subscription: Subscription, body: RenewIn) -> Sale:
    """The catalog's verdict on selling `body` through the subscription's webshop."""
    return await check_sale_in(session, subscription.customer_id, subscription.webshop_id, body)


async def check_sale_in(
    session: AsyncSession, customer_id: str, webshop_id: str, body: RenewIn
) -> Sale:
    """The catalog's verdict on selling `body` to the customer through `webshop_id`, and the
    trial rule (once per customer unless `repeat_trial`), as a 422 naming the field."""
    try:
        sale = await resolve_sale(
            session,
            OrderCheck(
                webshop_id=webshop_id,
                product_id=body.product_id,
                plan_id=body.plan_id,
                extra_product_ids=body.extra_product_ids,
            ),
        )
    except OrderRefused as error:
        raise refused(error.field, error.reason, title="Order not allowed") from None
    reason = await repeated_trial(
        session, customer_id, sale.product, repeat_allowed=body.repeat_trial
    )
    if reason:
        raise refused("product_id", reason, title="Order not allowed")
    return sale


def operator_order(action: str) -> str:
    return f"op-{action}-{uuid.uuid4()}"


async def _operator_entry(
    session: AsyncSession,
    outbox: Outbox,
    subscription: Subscription,
    action: str,
    *,
    kind: LedgerKind,
    amount: Decimal,
    currency: str,
    reference: str | None,
    description: str,
    now: datetime,
    plan_id: str | None = None,
    period_starts_at: datetime | None = None,
    period_ends_at: datetime | None = None,
) -> LedgerTransaction:
    """The one ledger entry of an operator's action on `subscription`."""
    return await record_entry(
        session,
        outbox,
        customer_id=subscription.customer_id,
        subscription_id=subscription.id,
        kind=kind,
        amount=amount,
        currency=currency,
        source="operator",
        webshop_id=subscription.webshop_id,
        order_id=operator_order(action),
        reference=reference,
        description=description,
        recorded_at=now,
        plan_id=plan_id,
        period_starts_at=period_starts_at,
        period_ends_at=period_ends_at,
    )


async def _announce_entries(
    session: AsyncSession,
    outbox: Outbox,
    entry: LedgerTransaction,
    paid: LedgerTransaction | None,
) -> None:
    await events.transaction_recorded(session, outbox, entry)
    if paid is not None:
        await events.transaction_recorded(session, outbox, paid)


async def _result(
    session: AsyncSession,
    subscription: Subscription,
    action: str,
    entry_id: str,
    paid: LedgerTransaction | None = None,
) -> ActionResult:
    entry = await session.get(LedgerTransaction, entry_id)
    assert entry is not None
    return ActionResult(
        action=action,
        subscription=await subscription_public(session, subscription),
        transaction=transaction_public(entry),
        payment=transaction_public(paid) if paid is not None else None,
    )


def _clear_bookings(subscription: Subscription) -> None:
    subscription.next_product_id = subscription.next_plan_id = None
    subscription.next_extra_product_ids = None
    subscription.cancel_at_period_end = False


def _touch(subscription: Subscription, now: datetime) -> None:
    subscription.updated_at = now
    subscription.version = (subscription.version or 0) + 1


async def renew(
    session: AsyncSession, outbox: Outbox, customer_id: str, body: RenewIn, *, now: datetime
) -> ActionResult:
    """Same product; the plan's length from the later of now and the current expiry."""
    subscription = await load_for_update(session, customer_id)
    if subscription.status == "pending":
        raise conflict("the subscription has not started yet (it starts on first login)")
    if body.product_id != subscription.product_id:
        raise refused(
            "product_id",
            f"a renewal keeps the product {subscription.product_id!r}; use change for another",
        )
    sale = await check_sale(session, subscription, body)
    base = renewal_base(subscription, now)
    expires_at = add_period(base, sale.plan.length, sale.plan.unit)
    if subscription.status not in RUNNING:
        subscription.starts_at = now
    subscription.plan_id = sale.plan.id
    subscription.status = running_status(sale.product)
    subscription.expires_at = expires_at
    _clear_bookings(subscription)
    _touch(subscription, now)
    await replace_extras(session, subscription, sale.extras, now)
    price, currency = price_of(sale.plan, sale.webshop)
    price += synced_extras_price(sale.extras, sale.webshop, currency, base, expires_at)
    summary = f"renewed {sale.product.name}, {sale.plan.name} until {expires_at:%Y-%m-%d}"
    entry = await _operator_entry(
        session,
        outbox,
        subscription,
        "renew",
        kind="charge",
        amount=price,
        currency=currency,
        reference=None,
        description=summary,
        now=now,
        plan_id=sale.plan.id,
        period_starts_at=base,
        period_ends_at=expires_at,
    )
    paid = await settle(session, outbox, entry, body.payment)
    await events.activated(
        session, outbox, subscription, sale.product, "renewed", at=now, summary=summary.capitalize()
    )
    await _announce_entries(session, outbox, entry, paid)
    return await _result(session, subscription, "renewed", entry.id, paid)


async def sell(
    session: AsyncSession, outbox: Outbox, customer_id: str, body: OpenIn, *, now: datetime
) -> ActionResult:
    """A new subscription for a customer with none running (none yet, or one that expired or was
    cancelled): any base product of the customer's webshop, a fresh period from now."""
    subscription = await session.scalar(
        select(Subscription).where(Subscription.customer_id == customer_id).with_for_update()
    )
    if subscription is not None and subscription.status not in ("expired", "cancelled"):
        raise conflict(f"the customer has a {subscription.status} subscription: renew or change it")
    sale = await check_sale_in(session, customer_id, body.webshop_id, body)
    starts_at, expires_at, status = fresh_period(sale.product, sale.plan, now)
    if subscription is None:
        subscription = Subscription(
            id=str(uuid.uuid4()), customer_id=customer_id, created_at=now, version=0
        )
        session.add(subscription)
    subscription.webshop_id = sale.webshop.id
    subscription.product_id = sale.product.id
    subscription.plan_id = sale.plan.id
    subscription.status = status
    subscription.starts_at = starts_at
    subscription.expires_at = expires_at
    _clear_bookings(subscription)
    _touch(subscription, now)
    try:
        await session.flush()
    except IntegrityError:
        # Another sale to this customer committed first (one subscription per customer).
        raise conflict(
            "the customer was sold a subscription just now: renew or change it"
        ) from None
    await replace_extras(session, subscription, sale.extras, now)
    price, currency = price_of(sale.plan, sale.webshop)
    if expires_at is not None:
        price += synced_extras_price(sale.extras, sale.webshop, currency, now, expires_at)
    until = f"until {expires_at:%Y-%m-%d}" if expires_at else "from the first login"
    summary = f"sold {sale.product.name}, {sale.plan.name} {until}"
    entry = await _operator_entry(
        session,
        outbox,
        subscription,
        "sell",
        kind="charge",
        amount=price,
        currency=currency,
        reference=None,
        description=summary,
        now=now,
        plan_id=sale.plan.id,
        period_starts_at=starts_at,
        period_ends_at=expires_at,
    )
    paid = await settle(session, outbox, entry, body.payment)
    await events.activated(
        session, outbox, subscription, sale.product, "opened", at=now, summary=summary.capitalize()
    )
    await _announce_entries(session, outbox, entry, paid)
    return await _result(session, subscription, "opened", entry.id, paid)


async def unused_credit(
    session: AsyncSession, subscription: Subscription, currency: str, now: datetime
) -> Decimal:
    """The current plan's price for the time left of the paid period (zero if none is left)."""
    if subscription.status not in RUNNING or subscription.expires_at is None:
        return Decimal("0.00")
    plan = await session.get(Plan, subscription.plan_id)
    if plan is None or currency not in plan.prices:
        return Decimal("0.00")
    return prorate(
        Decimal(plan.prices[currency]), subscription.expires_at - now, plan_span(plan, now)
    )


async def change(
    session: AsyncSession, outbox: Outbox, customer_id: str, body: ChangeIn, *, now: datetime
) -> ActionResult:
    """Another product/plan, now (the unused time credited) or booked for the current expiry."""
    subscription = await load_for_update(session, customer_id)
    sale = await check_sale(session, subscription, body)
    price, currency = price_of(sale.plan, sale.webshop)
    if body.starts == "at_expiry":
        if subscription.status not in RUNNING or subscription.expires_at is None:
            raise conflict(
                f"a {subscription.status} subscription has no current period to change at"
            )
        if subscription.cancel_at_period_end:
            raise conflict("the subscription is cancelled at the period end")
        starts_at = subscription.expires_at
        ends_at = add_period(starts_at, sale.plan.length, sale.plan.unit)
        subscription.next_product_id = sale.product.id
        subscription.next_plan_id = sale.plan.id
        subscription.next_extra_product_ids = [e.id for e in sale.extras]
        _touch(subscription, now)
        price += synced_extras_price(sale.extras, sale.webshop, currency, starts_at, ends_at)
        summary = f"change to {sale.product.name}, {sale.plan.name} booked for {starts_at:%Y-%m-%d}"
        entry = await _operator_entry(
            session,
            outbox,
            subscription,
            "change",
            kind="charge",
            amount=price,
            currency=currency,
            reference=None,
            description=summary,
            now=now,
            plan_id=sale.plan.id,
            period_starts_at=starts_at,
            period_ends_at=ends_at,
        )
        paid = await settle(session, outbox, entry, body.payment)
        current = await session.get(Product, subscription.product_id)
        assert current is not None
        await events.activated(
            session,
            outbox,
            subscription,
            current,
            "change_scheduled",
            at=now,
            summary=summary.capitalize(),
        )
        await _announce_entries(session, outbox, entry, paid)
        return await _result(session, subscription, "change_scheduled", entry.id, paid)

    credit = await unused_credit(session, subscription, currency, now)
    new_start, new_expiry, status = fresh_period(sale.product, sale.plan, now)
    if new_expiry is not None:
        price += synced_extras_price(sale.extras, sale.webshop, currency, now, new_expiry)
    subscription.product_id = sale.product.id
    subscription.plan_id = sale.plan.id
    subscription.status = status
    subscription.starts_at = new_start
    subscription.expires_at = new_expiry
    _clear_bookings(subscription)
    _touch(subscription, now)
    await replace_extras(session, subscription, sale.extras, now)
    net = price - credit
    kind: LedgerKind = "charge" if net >= 0 else "credit"
    summary = f"changed to {sale.product.name}, {sale.plan.name}: {price} {currency}" + (
        f" less {credit} {currency} credit for the unused time" if credit else ""
    )
    entry = await _operator_entry(
        session,
        outbox,
        subscription,
        "change",
        kind=kind,
        amount=abs(net),
        currency=currency,
        reference=None,
        description=summary,
        now=now,
        plan_id=sale.plan.id,
        period_starts_at=new_start,
        period_ends_at=new_expiry,
    )
    paid = await settle(session, outbox, entry, body.payment)
    await events.activated(
        session, outbox, subscription, sale.product, "changed", at=now, summary=summary.capitalize()
    )
    await _announce_entries(session, outbox, entry, paid)
    return await _result(session, subscription, "changed", entry.id, paid)


async def set_expiry(
    session: AsyncSession, outbox: Outbox, customer_id: str, body: ExpiryIn, *, now: datetime
) -> ActionResult:
    """Set an absolute expiry with a reason: a zero-amount adjustment in the ledger."""
    expires_at = to_utc(body.expires_at)
    if expires_at <= now:
        raise refused("expires_at", "the new expiry must be in the future")
    if expires_at > add_period(now, MAX_YEARS_AHEAD, "years"):
        raise refused("expires_at", f"at most {MAX_YEARS_AHEAD} years ahead")
    subscription = await load_for_update(session, customer_id)
    if subscription.status == "pending":
        raise conflict("the subscription has not started yet (it starts on first login)")
    product = await session.get(Product, subscription.product_id)
    plan = await session.get(Plan, subscription.plan_id)
    assert product is not None and plan is not None
    webshop = await session.get(Webshop, subscription.webshop_id)
    assert webshop is not None
    _, currency = price_of(plan, webshop)
    previous = subscription.expires_at
    if subscription.status not in RUNNING:
        subscription.starts_at = now
        subscription.status = running_status(product)
    subscription.expires_at = expires_at
    _touch(subscription, now)
    was = f"{previous:%Y-%m-%d %H:%M}" if previous else "none"
    summary = f"expiry set to {expires_at:%Y-%m-%d %H:%M} UTC (was {was}): {body.reason}"
    entry = await _operator_entry(
        session,
        outbox,
        subscription,
        "expiry",
        kind="adjustment",
        amount=Decimal("0.00"),
        currency=currency,
        reference=body.reason,
        description=summary,
        now=now,
        plan_id=subscription.plan_id,
        period_starts_at=previous,
        period_ends_at=expires_at,
    )
    await events.activated(
        session, outbox, subscription, product, "extended", at=now, summary=summary.capitalize()
    )
    await events.transaction_recorded(session, outbox, entry)
    return await _result(session, subscription, "extended", entry.id)


async def add_extra(
    session: AsyncSession, outbox: Outbox, customer_id: str, body: ExtraIn, *, now: datetime
) -> ActionResult:
    """An extra on its own plan (own expiry), or synced to the base expiry at a prorated price."""
    subscription = await load_for_update(session, customer_id)
    if subscription.status not in RUNNING or subscription.expires_at is None:
        raise conflict(
            f"extras can be added to a running subscription, not a {subscription.status} one"
        )
    extra = await session.get(Product, body.product_id)
    if extra is None or extra.kind != "extra":
        raise refused("product_id", f"{body.product_id!r} is not an extra product")
    if extra.archived:
        raise refused("product_id", f"extra {extra.id!r} is archived")
    if extra.id in (subscription.extra_product_ids or []):
        raise conflict(f"{extra.id!r} is already on the subscription")
    if body.plan_id is not None:
        plan = next((p for p in extra.plans if p.id == body.plan_id), None)
        if plan is None:
            raise refused("plan_id", f"extra {extra.id!r} has no plan {body.plan_id!r}")
        if plan.archived:
            raise refused("plan_id", f"plan {plan.id!r} is archived")
    elif body.synced_to_base:
        plan = first_plan(extra)
        if plan is None:
            raise refused("plan_id", f"extra {extra.id!r} has no plan on sale")
    else:
        raise refused("plan_id", "give the extra's plan, or synced_to_base: true")
    webshop = await session.get(Webshop, subscription.webshop_id)
    assert webshop is not None
    full_price, currency = price_of(plan, webshop)
    if body.synced_to_base:
        own_expiry = None
        ends_at = subscription.expires_at
        price = prorate(full_price, ends_at - now, plan_span(plan, now))
    else:
        own_expiry = ends_at = add_period(now, plan.length, plan.unit)
        price = full_price
    session.add(
        SubscriptionExtra(
            subscription_id=subscription.id,
            product_id=extra.id,
            plan_id=plan.id,
            expires_at=own_expiry,
            added_at=now,
        )
    )
    subscription.extra_product_ids = [*(subscription.extra_product_ids or []), extra.id]
    _touch(subscription, now)
    how = "synced to the base expiry" if own_expiry is None else f"until {ends_at:%Y-%m-%d}"
    summary = f"extra {extra.name} added ({plan.name}, {how})"
    entry = await _operator_entry(
        session,
        outbox,
        subscription,
        "extra",
        kind="charge",
        amount=price,
        currency=currency,
        reference=None,
        description=summary,
        now=now,
        plan_id=plan.id,
        period_starts_at=now,
        period_ends_at=ends_at,
    )
    paid = await settle(session, outbox, entry, body.payment)
    product = await session.get(Product, subscription.product_id)
    assert product is not None
    await events.activated(
        session, outbox, subscription, product, "extra_added", at=now, summary=summary.capitalize()
    )
    await _announce_entries(session, outbox, entry, paid)
    return await _result(session, subscription, "extra_added", entry.id, paid)


async def remove_extra(
    session: AsyncSession, outbox: Outbox, customer_id: str, product_id: str, *, now: datetime
) -> ActionResult:
    """Take an extra off: a zero-amount adjustment (refunds go through the webshop)."""
    subscription = await load_for_update(session, customer_id)
    if product_id not in (subscription.extra_product_ids or []):
        raise Problem(404, "No such extra", f"{product_id!r} is not an extra of this subscription")
    await session.execute(
        delete(SubscriptionExtra).where(
            SubscriptionExtra.subscription_id == subscription.id,
            SubscriptionExtra.product_id == product_id,
        )
    )
    subscription.extra_product_ids = [
        p for p in subscription.extra_product_ids or [] if p != product_id
    ]
    _touch(subscription, now)
    plan = await session.get(Plan, subscription.plan_id)
    webshop = await session.get(Webshop, subscription.webshop_id)
    assert plan is not None and webshop is not None
    _, currency = price_of(plan, webshop)
    summary = f"extra {product_id} removed"
    entry = await _operator_entry(
        session,
        outbox,
        subscription,
        "extra-removed",
        kind="adjustment",
        amount=Decimal("0.00"),
        currency=currency,
        reference=product_id,
        description=summary,
        now=now,
    )
    product = await session.get(Product, subscription.product_id)
    assert product is not None
    await events.activated(
        session,
        outbox,
        subscription,
        product,
        "extra_removed",
        at=now,
        summary=summary.capitalize(),
    )
    await events.transaction_recorded(session, outbox, entry)
    return await _result(session, subscription, "extra_removed", entry.id)


async def cancel(
    session: AsyncSession, outbox: Outbox, customer_id: str, body: CancelIn, *, now: datetime
) -> ActionResult:
    """End now (subscription.cancelled.v1) or at the period end (expires then, no renewal)."""
    subscription = await load_for_update(session, customer_id)
    if subscription.status in ("cancelled", "expired"):
        raise conflict(f"the subscription is already {subscription.status}")
    when: Literal["now", "at_period_end"] = body.when
    if when == "at_period_end" and (
        subscription.status not in RUNNING or subscription.expires_at is None
    ):
        raise conflict("a subscription that has not started has no period end; cancel it now")
    plan = await session.get(Plan, subscription.plan_id)
    webshop = await session.get(Webshop, subscription.webshop_id)
    assert plan is not None and webshop is not None
    _, currency = price_of(plan, webshop)
    reason = f": {body.reason}" if body.reason else ""
    previous = subscription.expires_at
    if when == "now":
        subscription.status = "cancelled"
        subscription.expires_at = now
        _clear_bookings(subscription)
        summary = f"cancelled now{reason}"
    else:
        subscription.cancel_at_period_end = True
        subscription.next_product_id = subscription.next_plan_id = None
        subscription.next_extra_product_ids = None
        summary = f"cancelled at the period end ({previous:%Y-%m-%d}){reason}"
    _touch(subscription, now)
    entry = await _operator_entry(
        session,
        outbox,
        subscription,
        "cancel",
        kind="adjustment",
        amount=Decimal("0.00"),
        currency=currency,
        reference=body.reason,
        description=summary,
        now=now,
        period_starts_at=previous if when == "now" else None,
        period_ends_at=now if when == "now" else previous,
    )
    if when == "now":
        await events.cancelled(session, outbox, subscription, at=now, reason=body.reason)
        action = "cancelled"
    else:
        product = await session.get(Product, subscription.product_id)
        assert product is not None
        await events.activated(
            session,
            outbox,
            subscription,
            product,
            "cancel_scheduled",
            at=now,
            summary=f"Subscription {summary}",
        )
        action = "cancel_scheduled"
    await events.transaction_recorded(session, outbox, entry)
    return await _result(session, subscription, action, entry.id)
