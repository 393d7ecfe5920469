"""Devices: connections admitted within the customer's limit (or refused, or the oldest evicted
by policy), heartbeats, disconnects, logouts and the operator's unbind."""

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from typing import Literal, cast

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.activity import access
from services.activity.models import Device, DeviceLimit, DeviceRejection
from services.activity.schemas import DevicePage, DevicePublic, DeviceStats
from services.contracts import topics
from services.contracts.activity import (
    DeviceLimitChangedV1,
    DeviceRegisteredV1,
    DeviceRejectedV1,
    DeviceRejectionReason,
    DeviceUnboundV1,
)
from services.contracts.apps import (
    DeviceConnectedV1,
    DeviceDisconnectedV1,
    DeviceHeartbeatV1,
    DeviceLogoutReason,
    DeviceLogoutV1,
)
from services.contracts.billing import DevicePolicy
from services.runtime.db import utcnow
from services.runtime.outbox import EventSink
from services.runtime.problems import Problem

log = logging.getLogger(__name__)

UnbindReason = Literal["unbound_by_operator", "evicted_by_limit"]
LogoutReason = Literal["account_disabled", "erased", "subscription_ended"]
# What a refused app is told on apps.commands, so it can show why.
LOGOUT_FOR_REFUSAL: dict[DeviceRejectionReason, DeviceLogoutReason] = {
    "device_limit_reached": "rejected_by_limit",
    "no_active_subscription": "no_active_subscription",
    "account_disabled": "account_disabled",
    "customer_erased": "erased",
}


Published = (
    DeviceLimitChangedV1 | DeviceRegisteredV1 | DeviceRejectedV1 | DeviceUnboundV1 | DeviceLogoutV1
)


async def publish(session: AsyncSession, outbox: EventSink, topic: str, event: Published) -> None:
    """Through the outbox, keyed by the customer so their events stay in order."""
    key = event.customer_id
    await outbox.add(session, event, topic=topic, key=key, subject=key)


async def connect(
    session: AsyncSession,
    outbox: EventSink,
    event: DeviceConnectedV1,
    *,
    default_policy: DevicePolicy,
) -> str:
    """Admit or refuse a connection; returns what happened (accepted, registered, rejected).

    A known device reconnecting is always admitted while the customer may connect at all; a new
    one only below the limit, else the policy decides: refuse it, or evict the devices seen
    longest ago to make room.
    """
    limit = await access.locked(session, event.customer_id)
    return await _admit(session, outbox, event, limit, default_policy=default_policy)


async def apply_in_order(
    session: AsyncSession,
    outbox: EventSink,
    customer_id: str,
    events: Sequence[DeviceConnectedV1 | DeviceHeartbeatV1 | DeviceDisconnectedV1],
    *,
    default_policy: DevicePolicy,
) -> None:
    """One customer's connects, heartbeats and disconnects of a batch, in their order, decided
    under one take of the customer's lock, their devices read once."""
    limit = await access.locked(session, customer_id)
    # Loaded into the session, so the decisions below find each device without a query.
    (await session.scalars(select(Device).where(Device.customer_id == customer_id))).all()
    for event in events:
        if isinstance(event, DeviceConnectedV1):
            await _admit(session, outbox, event, limit, default_policy=default_policy)
        elif isinstance(event, DeviceHeartbeatV1):
            await heartbeat(session, event)
        else:
            await disconnect(session, event)


async def record_heartbeats(session: AsyncSession, heartbeats: Sequence[DeviceHeartbeatV1]) -> None:
    """Heartbeats of devices whose customer sent nothing else in the batch: the newest per
    device, applied in one statement; last_seen_at never moves backwards, and a heartbeat of a
    device we do not know (unbound, evicted, refused) changes nothing."""
    newest: dict[tuple[str, str], DeviceHeartbeatV1] = {}
    for beat in heartbeats:
        key = (beat.customer_id, beat.device_id)
        seen = newest.get(key)
        if seen is None or beat.at >= seen.at:
            newest[key] = beat
    if not newest:
        return
    table = cast(Table, Device.__table__)  # Core, not the ORM: no object per heartbeat
    await session.execute(
        update(table)
        .where(
            table.c.customer_id == bindparam("b_customer_id"),
            table.c.id == bindparam("b_device_id"),
            table.c.last_seen_at <= bindparam("b_at"),
        )
        .values(last_seen_at=bindparam("b_at"), ip=func.coalesce(bindparam("b_ip"), table.c.ip)),
        [
            {"b_customer_id": b.customer_id, "b_device_id": b.device_id, "b_at": b.at, "b_ip": b.ip}
            for b in newest.values()
        ],
    )


async def _admit(
    session: AsyncSession,
    outbox: EventSink,
    event: DeviceConnectedV1,
    limit: DeviceLimit | None,
    *,
    default_policy: DevicePolicy,
) -> str:
    device = await session.get(Device, (event.customer_id, event.device_id))
    reason = access.refusal(limit)
    if reason is not None:
        if device is not None:
            device.connected = False
        await _reject(session, outbox, event, reason, limit)
        return "rejected"
    assert limit is not None and limit.max_devices is not None
    if device is not None:
        _refresh(device, event)
        return "accepted"
    count = await _count(session, event.customer_id)
    if count >= limit.max_devices:
        policy = limit.device_policy or default_policy
        if policy == "reject" or limit.max_devices == 0:
            await _reject(session, outbox, event, "device_limit_reached", limit)
            return "rejected"
        await evict_oldest(session, outbox, event.customer_id, count - limit.max_devices + 1)
    session.add(
        Device(
            customer_id=event.customer_id,
            id=event.device_id,
            kind=event.kind,
            model=event.model,
            os=event.os,
            app_version=event.app_version,
            ip=event.ip,
            connected=True,
            first_seen_at=event.connected_at,
            connected_at=event.connected_at,
            last_seen_at=event.connected_at,
        )
    )
    await session.flush()
    await publish(
        session,
        outbox,
        topics.ACTIVITY_EVENTS,
        DeviceRegisteredV1(
            customer_id=event.customer_id,
            device_id=event.device_id,
            kind=event.kind,
            registered_at=event.connected_at,
        ),
    )
    return "registered"


def _refresh(device: Device, event: DeviceConnectedV1) -> None:
    device.kind = event.kind
    device.model = event.model
    device.os = event.os
    device.app_version = event.app_version
    device.ip = event.ip
    device.connected = True
    device.connected_at = max(device.connected_at, event.connected_at)
    device.last_seen_at = max(device.last_seen_at, event.connected_at)


async def _count(session: AsyncSession, customer_id: str) -> int:
    count: int = (
        await session.scalar(
            select(func.count()).select_from(Device).where(Device.customer_id == customer_id)
        )
        or 0
    )
    return count


async def _reject(
    session: AsyncSession,
    outbox: EventSink,
    event: DeviceConnectedV1,
    reason: DeviceRejectionReason,
    limit: DeviceLimit | None,
) -> None:
    if reason != "customer_erased":  # nothing new is kept about an erased customer
        session.add(
            DeviceRejection(
                customer_id=event.customer_id,
                device_id=event.device_id,
                kind=event.kind,
                reason=reason,
                rejected_at=event.connected_at,
            )
        )
    # The app learns it was refused and why; the rest of the system, from device.rejected.v1.
    await publish(
        session,
        outbox,
        topics.APPS_COMMANDS,
        DeviceLogoutV1(
            customer_id=event.customer_id,
            device_id=event.device_id,
            reason=LOGOUT_FOR_REFUSAL[reason],
        ),
    )
    await publish(
        session,
        outbox,
        topics.ACTIVITY_EVENTS,
        DeviceRejectedV1(
            customer_id=event.customer_id,
            device_id=event.device_id,
            reason=reason,
            max_devices=limit.max_devices if limit else None,
            rejected_at=event.connected_at,
        ),
    )


async def evict_oldest(
    session: AsyncSession, outbox: EventSink, customer_id: str, how_many: int
) -> None:
    """Unbind the `how_many` devices seen longest ago and log them out (caller holds the lock)."""
    if how_many <= 0:
        return
    oldest = (
        await session.scalars(
            select(Device)
            .where(Device.customer_id == customer_id)
            .order_by(Device.last_seen_at, Device.id)
            .limit(how_many)
        )
    ).all()
    for device in oldest:
        await _unbind(session, outbox, device, "evicted_by_limit")


async def evict_beyond_limit(session: AsyncSession, outbox: EventSink, limit: DeviceLimit) -> None:
    """A lower limit applies at once: the devices seen longest ago go until the rest fit."""
    if limit.max_devices is None:
        return
    excess = await _count(session, limit.customer_id) - limit.max_devices
    await evict_oldest(session, outbox, limit.customer_id, excess)


async def evict_beyond_limits(
    session: AsyncSession, outbox: EventSink, limits: dict[str, int]
) -> None:
    """`evict_beyond_limit` for many customers (whose limit rows the caller holds locked): their
    devices counted in one query; only those above their limit evict, in customer order."""
    if not limits:
        return
    counts = await session.execute(
        select(Device.customer_id, func.count())
        .where(Device.customer_id.in_(limits))
        .group_by(Device.customer_id)
    )
    for customer_id, count in sorted(counts.all()):
        await evict_oldest(session, outbox, customer_id, count - limits[customer_id])


async def _unbind(
    session: AsyncSession, outbox: EventSink, device: Device, reason: UnbindReason
) -> None:
    now = utcnow()
    await session.delete(device)
    await session.flush()
    await publish(
        session,
        outbox,
        topics.APPS_COMMANDS,
        DeviceLogoutV1(customer_id=device.customer_id, device_id=device.id, reason=reason),
    )
    await publish(
        session,
        outbox,
        topics.ACTIVITY_EVENTS,
        DeviceUnboundV1(
            customer_id=device.customer_id,
            device_id=device.id,
            reason=reason,
            unbound_at=now,
        ),
    )


async def unbind(
    session: AsyncSession, outbox: EventSink, customer_id: str, device_id: str
) -> None:
    """The operator removes a device: it no longer counts, and the app is logged out."""
    device = await session.get(Device, (customer_id, device_id))
    if device is None:
        raise Problem(404, "Device not found", f"customer {customer_id} has no device {device_id}")
    await _unbind(session, outbox, device, "unbound_by_operator")


async def log_out_connected(
    session: AsyncSession, outbox: EventSink, customer_id: str, reason: LogoutReason
) -> None:
    """Send a logout to every device of the customer that is connected, and mark it so."""
    devices = (
        await session.scalars(
            select(Device).where(Device.customer_id == customer_id, Device.connected.is_(True))
        )
    ).all()
    for device in devices:
        device.connected = False
        await publish(
            session,
            outbox,
            topics.APPS_COMMANDS,
            DeviceLogoutV1(customer_id=customer_id, device_id=device.id, reason=reason),
        )


async def log_out_connected_of(
    session: AsyncSession,
    outbox: EventSink,
    customer_ids: Sequence[str],
    reason: LogoutReason,
    traced: Callable[[str], AbstractContextManager[object]] = lambda _: nullcontext(),
) -> None:
    """`log_out_connected` for many customers (whose limit rows the caller holds locked): one
    UPDATE of every connected device of theirs, a logout for each device it changed, published
    inside `traced(customer_id)` (the trace of the event that logged them out)."""
    if not customer_ids:
        return
    changed = await session.execute(
        update(Device)
        .where(Device.customer_id.in_(customer_ids), Device.connected.is_(True))
        .values(connected=False)
        .returning(Device.customer_id, Device.id)
    )
    for customer_id, device_id in sorted(changed.all()):
        with traced(customer_id):
            await publish(
                session,
                outbox,
                topics.APPS_COMMANDS,
                DeviceLogoutV1(customer_id=customer_id, device_id=device_id, reason=reason),
            )


async def heartbeat(session: AsyncSession, event: DeviceHeartbeatV1) -> None:
    device = await session.get(Device, (event.customer_id, event.device_id))
    if device is None:
        # Unbound, evicted or refused: its heartbeats mean nothing to us.
        log.info("heartbeat of unknown device %s of %s", event.device_id, event.customer_id)
        return
    # Only connects and disconnects/logouts open and close a session: a stray heartbeat after
    # a logout must not make a device of a disabled account look online.
    if event.at >= device.last_seen_at:
        device.last_seen_at = event.at
        if event.ip is not None:
            device.ip = event.ip


async def disconnect(session: AsyncSession, event: DeviceDisconnectedV1) -> None:
    device = await session.get(Device, (event.customer_id, event.device_id))
    if device is None:
        return
    if event.at >= device.connected_at:
        device.connected = False
        device.last_seen_at = max(device.last_seen_at, event.at)


async def delete_all(session: AsyncSession, customer_id: str) -> None:
    await session.execute(delete(Device).where(Device.customer_id == customer_id))
    await session.execute(delete(DeviceRejection).where(DeviceRejection.customer_id == customer_id))


def is_online(device: Device, now: datetime, offline_after: timedelta) -> bool:
    return device.connected and device.last_seen_at >= now - offline_after


async def list_devices(
    session: AsyncSession, customer_id: str, *, offline_after: timedelta
) -> DevicePage:
    limit = await session.get(DeviceLimit, customer_id)
    devices = (
        await session.scalars(
            select(Device)
            .where(Device.customer_id == customer_id)
            .order_by(Device.first_seen_at, Device.id)
        )
    ).all()
    now = utcnow()
    return DevicePage(
        items=[
            DevicePublic(
                id=d.id,
                customer_id=d.customer_id,
                kind=d.kind,
                model=d.model,
                os=d.os,
                app_version=d.app_version,
                ip=d.ip,
                online=is_online(d, now, offline_after),
                first_seen_at=d.first_seen_at,
                connected_at=d.connected_at,
                last_seen_at=d.last_seen_at,
            )
            for d in devices
        ],
        next_cursor=None,
        max_devices=limit.max_devices if limit else None,
        device_policy=limit.device_policy if limit else None,
    )


async def stats(session: AsyncSession, *, offline_after: timedelta) -> DeviceStats:
    cutoff = utcnow() - offline_after
    total = await session.scalar(select(func.count()).select_from(Device)) or 0
    online = (
        await session.scalar(
            select(func.count())
            .select_from(Device)
            .where(Device.connected.is_(True), Device.last_seen_at >= cutoff)
        )
        or 0
    )
    return DeviceStats(devices_online=online, devices_total=total)
