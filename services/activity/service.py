"""The rules of the activity service: the device limit that follows the customer's product."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.activity.models import Device, DeviceLimit
from services.activity.schemas import DevicePage, DevicePublic
from services.contracts import topics
from services.contracts.activity import DeviceLimitChangedV1
from services.contracts.billing import SubscriptionActivatedV1
from services.runtime.db import utcnow
from services.runtime.outbox import Outbox


async def follow_subscription(
    session: AsyncSession, outbox: Outbox, event: SubscriptionActivatedV1
) -> None:
    """Take the device limit of the customer's (new) product; announce it when it changed."""
    now = utcnow()
    limit = await session.get(DeviceLimit, event.customer_id)
    if limit is None:
        session.add(
            DeviceLimit(
                customer_id=event.customer_id,
                product_id=event.product_id,
                max_devices=event.max_devices,
                updated_at=now,
            )
        )
    else:
        changed = limit.max_devices != event.max_devices
        limit.product_id = event.product_id
        limit.max_devices = event.max_devices
        limit.updated_at = now
        if not changed:
            return
    await outbox.add(
        session,
        DeviceLimitChangedV1(
            customer_id=event.customer_id, max_devices=event.max_devices, changed_at=now
        ),
        topic=topics.ACTIVITY_EVENTS,
        key=event.customer_id,
        subject=event.customer_id,
    )


async def list_devices(session: AsyncSession, customer_id: str) -> DevicePage:
    limit = await session.get(DeviceLimit, customer_id)
    devices = (
        await session.scalars(
            select(Device)
            .where(Device.customer_id == customer_id)
            .order_by(Device.first_seen_at, Device.id)
        )
    ).all()
    return DevicePage(
        items=[DevicePublic.model_validate(d, from_attributes=True) for d in devices],
        next_cursor=None,
        max_devices=limit.max_devices if limit else None,
    )
