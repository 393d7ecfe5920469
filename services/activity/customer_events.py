"""What the activity service does on other services' news about a customer: the device limit
and policy of the product, a subscription that ended, an account disabled, a profile deleted,
a customer erased."""

from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.activity import access, devices, profiles, recordings, saved_items
from services.activity.models import DeviceLimit, idempotency_record
from services.contracts import topics
from services.contracts.activity import DeviceLimitChangedV1
from services.contracts.billing import (
    SubscriptionActivatedV1,
    SubscriptionCancelledV1,
    SubscriptionExpiredV1,
)
from services.contracts.customers import AccountUpdatedV1, CustomerErasedV1, ProfileDeletedV1
from services.runtime.consumer import Traced, untraced
from services.runtime.db import utcnow
from services.runtime.idempotency import forget_customer
from services.runtime.outbox import Outbox

LIMIT = cast(Table, DeviceLimit.__table__)  # Core, not the ORM: no object per event


async def follow_subscription(
    session: AsyncSession, outbox: Outbox, event: SubscriptionActivatedV1
) -> None:
    """Take the limit and policy of the customer's (new) product at once; announce a changed
    limit. A lower limit evicts the devices seen longest ago until the rest fit, so no customer
    stays above their limit."""
    now = utcnow()
    limit = await access.locked_or_new(session, event.customer_id)
    if limit.erased:
        return
    changed = limit.max_devices != event.max_devices
    limit.product_id = event.product_id
    limit.max_devices = event.max_devices
    limit.device_policy = event.device_policy
    limit.subscription_status = event.status
    limit.updated_at = now
    await devices.evict_beyond_limit(session, outbox, limit)
    if changed:
        await devices.publish(
            session,
            outbox,
            topics.ACTIVITY_EVENTS,
            DeviceLimitChangedV1(
                customer_id=event.customer_id, max_devices=event.max_devices, changed_at=now
            ),
        )


async def follow_subscriptions(
    session: AsyncSession,
    outbox: Outbox,
    events: Sequence[SubscriptionActivatedV1],
    traced: Traced = untraced,
) -> None:
    """`follow_subscription` for a partition's run (a renewal run brings one per order):
    the customers' limit rows made where missing and locked in one statement, their new product,
    limit, policy and status written by one UPDATE, their devices counted by one query, the
    evictions (rare: only a lower limit) and the announcements written to the outbox together.

    A customer's events apply in arrival order: each one that changes the limit is announced,
    and the last one's values stay. Evictions are decided once per customer, against the limit
    the batch leaves, before the announcements (as one by one sends the last change)."""
    if not events:
        return
    limits = await access.locked_limits_of(session, {e.customer_id for e in events})
    now = utcnow()
    current = {c: max_devices for c, (max_devices, erased) in limits.items() if not erased}
    last: dict[str, SubscriptionActivatedV1] = {}
    changes: list[tuple[int, DeviceLimitChangedV1]] = []
    for index, event in enumerate(events):
        if event.customer_id not in current:
            continue  # erased: a late subscription event does not bring them back
        if current[event.customer_id] != event.max_devices:
            current[event.customer_id] = event.max_devices
            changes.append(
                (
                    index,
                    DeviceLimitChangedV1(
                        customer_id=event.customer_id,
                        max_devices=event.max_devices,
                        changed_at=now,
                    ),
                )
            )
        last[event.customer_id] = event
    if not last:
        return
    await session.execute(
        update(LIMIT)
        .where(LIMIT.c.customer_id == bindparam("b_customer_id"))
        .values(
            product_id=bindparam("b_product_id"),
            max_devices=bindparam("b_max_devices"),
            device_policy=bindparam("b_device_policy"),
            subscription_status=bindparam("b_status"),
            updated_at=now,
        ),
        [
            {
                "b_customer_id": e.customer_id,
                "b_product_id": e.product_id,
                "b_max_devices": e.max_devices,
                "b_device_policy": e.device_policy,
                "b_status": e.status,
            }
            for e in last.values()
        ],
    )
    pending = outbox.pending()
    await devices.evict_beyond_limits(session, pending, {c: e.max_devices for c, e in last.items()})
    for index, change in changes:
        with traced(index):  # the announcement continues its subscription's trace
            await devices.publish(session, pending, topics.ACTIVITY_EVENTS, change)
    await pending.flush(session)


async def end_subscriptions(
    session: AsyncSession,
    outbox: Outbox,
    ended: Sequence[SubscriptionCancelledV1 | SubscriptionExpiredV1],
    traced: Traced = untraced,
) -> None:
    """Subscriptions ended (a month end brings thousands): each customer's connected devices are
    logged out (reason subscription_ended), and no new connection is admitted until a
    subscription is usable again (reason no_active_subscription). Bindings stay, for a renewal.
    A repeat finds no connected device, so it sends nothing; an erased customer is left alone.

    Set-based: the customers' limit rows made where missing and locked in one statement each,
    their status set by one UPDATE per outcome, every connected device of theirs logged out by
    one UPDATE, the logouts written to the outbox in one insert."""
    last: dict[str, str] = {}
    deciding: dict[str, int] = {}
    for index, event in enumerate(ended):
        # A customer's last event in the batch decides their status, as one by one would, and
        # its trace is the one their logouts continue.
        last[event.customer_id] = (
            "cancelled" if isinstance(event, SubscriptionCancelledV1) else "expired"
        )
        deciding[event.customer_id] = index
    erased = await access.locked_or_new_of(session, last)
    now = utcnow()
    for status in ("expired", "cancelled"):
        ids = [c for c, s in last.items() if s == status and c not in erased]
        if ids:
            await session.execute(
                update(DeviceLimit)
                .where(DeviceLimit.customer_id.in_(ids))
                .values(subscription_status=status, updated_at=now)
            )
    pending = outbox.pending()
    await devices.log_out_connected_of(
        session,
        pending,
        [c for c in last if c not in erased],
        "subscription_ended",
        traced=lambda customer_id: traced(deciding[customer_id]),
    )
    await pending.flush(session)


async def follow_account(session: AsyncSession, outbox: Outbox, event: AccountUpdatedV1) -> None:
    """A disabled account's connected devices are logged out and no device may connect."""
    limit = await access.locked_or_new(session, event.customer_id)
    was_disabled = limit.disabled
    limit.disabled = event.disabled
    limit.updated_at = utcnow()
    if event.disabled and not was_disabled:
        await devices.log_out_connected(session, outbox, event.customer_id, "account_disabled")


async def delete_profile(session: AsyncSession, event: ProfileDeletedV1) -> None:
    await profiles.forget(session, event.customer_id, event.profile_id)
    await saved_items.delete_of_profile(session, event.customer_id, event.profile_id)
    await recordings.delete_of_profile(session, event.customer_id, event.profile_id)


async def erase_customer(session: AsyncSession, outbox: Outbox, event: CustomerErasedV1) -> None:
    """Everything of the customer goes (devices with their IPs, rejections, favorites,
    watchlist, recordings); connected apps are logged out. A row marked erased stays, so a late
    subscription event cannot bring the customer back and connections are refused."""
    limit = await access.locked_or_new(session, event.customer_id)
    if limit.erased:
        return
    await devices.log_out_connected(session, outbox, event.customer_id, "erased")
    await devices.delete_all(session, event.customer_id)
    await saved_items.delete_all(session, event.customer_id)
    await recordings.delete_all(session, event.customer_id)
    await profiles.forget_customer(session, event.customer_id)
    await forget_customer(session, idempotency_record, event.customer_id)
    limit.erased = True
    limit.product_id = None
    limit.max_devices = None
    limit.device_policy = None
    limit.subscription_status = None
    limit.updated_at = utcnow()
