"""Events as the apps, billing and customers send them, with sensible defaults."""

from datetime import UTC, datetime, timedelta

from services.contracts.apps import (
    DeviceConnectedV1,
    DeviceKind,
    FavoriteAddedV1,
    RecordingScheduledV1,
)
from services.contracts.billing import DevicePolicy, SubscriptionActivatedV1, SubscriptionStatus
from services.contracts.customers import ProfileCreatedV1

CUSTOMER = "c0ffee00-0000-4000-8000-000000000004"


def now() -> datetime:
    return datetime.now(UTC)


def activated(
    max_devices: int,
    *,
    customer_id: str = CUSTOMER,
    product_id: str = "basic",
    policy: DevicePolicy | None = None,
    status: SubscriptionStatus = "active",
) -> SubscriptionActivatedV1:
    return SubscriptionActivatedV1(
        customer_id=customer_id,
        subscription_id="sub-1",
        order_id=None,
        action="opened",
        webshop_id="shop-eu",
        product_id=product_id,
        plan_id=f"{product_id}-1m",
        extra_product_ids=[],
        status=status,
        starts_at=now(),
        expires_at=now() + timedelta(days=30),
        max_devices=max_devices,
        device_policy=policy,
    )


def connected(
    device_id: str,
    *,
    customer_id: str = CUSTOMER,
    at: datetime | None = None,
    kind: DeviceKind = "stb",
) -> DeviceConnectedV1:
    return DeviceConnectedV1(
        customer_id=customer_id,
        device_id=device_id,
        kind=kind,
        model="X1",
        os="Linux",
        app_version="1.2.3",
        ip="192.0.2.10",
        connected_at=at or now(),
    )


def favorite(
    item_id: str, *, profile_id: str = "p-main", at: datetime | None = None
) -> FavoriteAddedV1:
    return FavoriteAddedV1(
        customer_id=CUSTOMER,
        profile_id=profile_id,
        item_type="channel",
        item_id=item_id,
        title=f"Channel {item_id}",
        at=at or now(),
    )


def scheduled(
    recording_id: str,
    *,
    profile_id: str = "p-main",
    starts_at: datetime | None = None,
    minutes: int = 60,
) -> RecordingScheduledV1:
    start = starts_at or now() + timedelta(hours=1)
    return RecordingScheduledV1(
        customer_id=CUSTOMER,
        profile_id=profile_id,
        recording_id=recording_id,
        channel_id="ch-1",
        programme_id=f"prog-{recording_id}",
        title=f"Show {recording_id}",
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        at=now(),
    )


def profile_created(profile_id: str, *, customer_id: str = CUSTOMER) -> ProfileCreatedV1:
    """The customers service's announcement of a profile it accepted."""
    return ProfileCreatedV1(
        customer_id=customer_id,
        profile_id=profile_id,
        name=profile_id,
        kids=False,
        created_at=now(),
    )
