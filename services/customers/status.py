"""The customer's status: derived from billing's subscription events (kept as a read-model on the
customer row) and the account's disabled flag.

    disabled                 the operator disabled the account (whatever the subscription)
    pending                  no subscription yet, or one waiting for its first login
    trial / active           the subscription is usable (a trial product, or a regular one)
    expired                  the subscription expired or was cancelled

The list's groups: active = trial + active; inactive = pending + expired + disabled.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.billing import (
    SubscriptionActivatedV1,
    SubscriptionCancelledV1,
    SubscriptionExpiredV1,
)
from services.customers.models import Account, Customer
from services.runtime.db import utcnow

# Life-cycle order: the list's status sort.
STATUS_RANK: dict[str, int] = {"pending": 0, "trial": 1, "active": 2, "expired": 3, "disabled": 4}


def customer_status(subscription_status: str | None, disabled: bool) -> str:
    if disabled:
        return "disabled"
    if subscription_status in ("trial", "active", "expired", "pending"):
        return subscription_status
    return "expired" if subscription_status == "cancelled" else "pending"


def set_status(customer: Customer, status: str) -> None:
    customer.status = status
    customer.status_rank = STATUS_RANK[status]


def refresh_status(customer: Customer, *, disabled: bool) -> None:
    set_status(customer, customer_status(customer.subscription_status, disabled))


async def _disabled(session: AsyncSession, customer_id: str) -> bool:
    account = await session.get(Account, customer_id)
    return account.disabled if account is not None else False


def follow_activated(customer: Customer, event: SubscriptionActivatedV1, *, disabled: bool) -> None:
    """Every action of subscription.activated carries the whole summary: copy it.

    (cancel_scheduled keeps the subscription usable until expires_at; change_scheduled shows
    the current product until billing emits `changed` at the expiry.)
    """
    customer.product_id = event.product_id
    customer.plan_id = event.plan_id
    customer.extra_product_ids = list(event.extra_product_ids)
    customer.subscription_id = event.subscription_id
    customer.subscription_status = event.status
    customer.expires_at = event.expires_at
    customer.updated_at = utcnow()
    refresh_status(customer, disabled=disabled)


def _is_current(customer: Customer, subscription_id: str) -> bool:
    # An end of a subscription the customer has already left (a change opened another) must
    # not end the one they have now.
    return customer.subscription_id in (None, subscription_id)


async def handle_cancelled(session: AsyncSession, event: SubscriptionCancelledV1) -> None:
    customer = await session.get(Customer, event.customer_id)
    if customer is None or not _is_current(customer, event.subscription_id):
        return
    customer.subscription_id = event.subscription_id
    customer.subscription_status = "cancelled"
    # Ended now: the expiry the list shows and filters on is the moment it ended.
    customer.expires_at = event.cancelled_at
    customer.updated_at = utcnow()
    refresh_status(customer, disabled=await _disabled(session, customer.id))


async def handle_expired(session: AsyncSession, event: SubscriptionExpiredV1) -> None:
    customer = await session.get(Customer, event.customer_id)
    if customer is None or not _is_current(customer, event.subscription_id):
        return
    customer.subscription_id = event.subscription_id
    customer.subscription_status = "expired"
    customer.expires_at = event.expired_at
    customer.updated_at = utcnow()
    refresh_status(customer, disabled=await _disabled(session, customer.id))
