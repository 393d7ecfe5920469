"""Devices: admitted within the limit, refused or evicting the oldest beyond it, following the
product, the account and the operator; never above the limit under concurrent connects."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from services.activity import customer_events, devices, models
from services.activity.app import SPEC
from services.activity.models import Device
from services.activity.tests.conftest import Feed
from services.activity.tests.events import CUSTOMER, activated, connected, now
from services.contracts import topics
from services.contracts.apps import DeviceDisconnectedV1, DeviceHeartbeatV1
from services.contracts.billing import SubscriptionCancelledV1, SubscriptionExpiredV1
from services.contracts.customers import AccountUpdatedV1
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem
from services.runtime.service_app import Runtime
from services.runtime.tests._helpers import (
    OutboxRow,
    consumer_record,
    event_bytes,
    of_type,
    outbox_rows,
    service_runtime,
)

OFFLINE_AFTER = timedelta(seconds=90)


async def device_ids(db: Database, customer_id: str = CUSTOMER) -> list[str]:
    async with db.sessions() as session:
        page = await devices.list_devices(session, customer_id, offline_after=OFFLINE_AFTER)
    return sorted(d.id for d in page.items)


async def sent(db: Database, event_type: str) -> list[OutboxRow]:
    return of_type(await outbox_rows(db, models.outbox), event_type)


async def test_devices_connect_up_to_the_limit_and_the_next_is_rejected(
    db: Database, feed: Feed
) -> None:
    await feed(activated(2))
    for device_id in ("a", "b", "c"):
        assert await feed(connected(device_id)) == "handled"

    assert await device_ids(db) == ["a", "b"]
    [rejected] = await sent(db, "device.rejected.v1")
    assert rejected.topic == topics.ACTIVITY_EVENTS and rejected.key == CUSTOMER
    assert rejected.data["device_id"] == "c"
    assert rejected.data["reason"] == "device_limit_reached"
    assert rejected.data["max_devices"] == 2
    assert [r.data["device_id"] for r in await sent(db, "device.registered.v1")] == ["a", "b"]
    # The refused app is told why, on the apps' topic.
    [logout] = await sent(db, "device.logout.v1")
    assert (logout.topic, logout.key) == (topics.APPS_COMMANDS, CUSTOMER)
    assert logout.data == {"customer_id": CUSTOMER, "device_id": "c", "reason": "rejected_by_limit"}


async def test_a_known_device_reconnects_at_the_limit(db: Database, feed: Feed) -> None:
    await feed(activated(1))
    await feed(connected("a", at=now() - timedelta(minutes=5)))
    await feed(connected("a"))

    assert await device_ids(db) == ["a"]
    assert await sent(db, "device.rejected.v1") == []
    assert len(await sent(db, "device.registered.v1")) == 1


async def test_evict_oldest_policy_logs_out_the_device_seen_longest_ago(
    db: Database, feed: Feed
) -> None:
    await feed(activated(2, policy="evict_oldest"))
    await feed(connected("old", at=now() - timedelta(hours=2)))
    await feed(connected("recent", at=now() - timedelta(hours=3)))
    # "recent" was first seen earlier but heard from later: "old" goes.
    await feed(DeviceHeartbeatV1(customer_id=CUSTOMER, device_id="recent", at=now()))
    await feed(connected("new"))

    assert await device_ids(db) == ["new", "recent"]
    [logout] = await sent(db, "device.logout.v1")
    assert logout.topic == topics.APPS_COMMANDS
    assert logout.data == {
        "customer_id": CUSTOMER,
        "device_id": "old",
        "reason": "evicted_by_limit",
    }
    [unbound] = await sent(db, "device.unbound.v1")
    assert unbound.data["reason"] == "evicted_by_limit"


async def test_the_service_default_policy_applies_when_the_product_names_none(
    db: Database,
) -> None:
    async with service_runtime(SPEC, db) as rt:
        async with db.transaction() as session:
            await customer_events.follow_subscription(session, rt.outbox, activated(1))
        for device_id in ("a", "b"):
            async with db.transaction() as session:
                await devices.connect(
                    session, rt.outbox, connected(device_id), default_policy="evict_oldest"
                )
    assert await device_ids(db) == ["b"]


async def test_without_a_usable_subscription_every_connection_is_rejected(
    db: Database, feed: Feed
) -> None:
    await feed(connected("before-any-subscription"))
    await feed(activated(3))
    await feed(connected("a"))
    await feed(
        SubscriptionExpiredV1(
            customer_id=CUSTOMER, subscription_id="sub-1", product_id="basic", expired_at=now()
        )
    )
    await feed(connected("a"))
    await feed(connected("b"))

    assert [
        (r.data["device_id"], r.data["reason"]) for r in await sent(db, "device.rejected.v1")
    ] == [
        ("before-any-subscription", "no_active_subscription"),
        ("a", "no_active_subscription"),
        ("b", "no_active_subscription"),
    ]
    assert [
        (r.topic, r.data["device_id"], r.data["reason"]) for r in await sent(db, "device.logout.v1")
    ] == [
        (topics.APPS_COMMANDS, "before-any-subscription", "no_active_subscription"),
        (topics.APPS_COMMANDS, "a", "subscription_ended"),  # "a" was connected when it expired
        (topics.APPS_COMMANDS, "a", "no_active_subscription"),
        (topics.APPS_COMMANDS, "b", "no_active_subscription"),
    ]


async def test_a_pending_subscription_admits_the_first_device(db: Database, feed: Feed) -> None:
    # Products that start on first login wait for this very connection.
    await feed(activated(1, status="pending"))
    await feed(connected("a"))
    assert await device_ids(db) == ["a"]


async def test_a_lower_limit_evicts_the_oldest_devices_at_once(db: Database, feed: Feed) -> None:
    await feed(activated(3, product_id="premium"))
    for minutes, device_id in ((30, "a"), (20, "b"), (10, "c")):
        await feed(connected(device_id, at=now() - timedelta(minutes=minutes)))
    await feed(activated(1, product_id="basic"))

    assert await device_ids(db) == ["c"]
    logouts = await sent(db, "device.logout.v1")
    assert sorted(r.data["device_id"] for r in logouts) == ["a", "b"]
    assert {r.data["reason"] for r in logouts} == {"evicted_by_limit"}
    assert [r.data["max_devices"] for r in await sent(db, "device_limit.changed.v1")] == [3, 1]
    # A higher limit again admits more at once.
    await feed(activated(2, product_id="family"))
    await feed(connected("d"))
    assert await device_ids(db) == ["c", "d"]


async def test_a_disabled_account_logs_out_connected_devices_and_refuses_connections(
    db: Database, feed: Feed
) -> None:
    await feed(activated(3))
    await feed(connected("a"))
    await feed(connected("b"))
    await feed(DeviceDisconnectedV1(customer_id=CUSTOMER, device_id="b", at=now()))
    disabled = AccountUpdatedV1(customer_id=CUSTOMER, login="123", disabled=True, updated_at=now())
    await feed(disabled)
    await feed(connected("a"))

    # "a" is logged out when disabled, and again told so when its reconnect is refused.
    logouts = await sent(db, "device.logout.v1")
    assert [r.data for r in logouts] == [
        {"customer_id": CUSTOMER, "device_id": "a", "reason": "account_disabled"}
    ] * 2
    [rejected] = await sent(db, "device.rejected.v1")
    assert rejected.data["reason"] == "account_disabled"

    await feed(disabled.model_copy(update={"disabled": False}))
    await feed(connected("a"))
    assert len(await sent(db, "device.rejected.v1")) == 1


async def test_an_ended_subscription_logs_out_connected_devices_once(
    db: Database, feed: Feed, runtime: Runtime
) -> None:
    await feed(activated(3))
    for device_id in ("a", "b", "c"):
        await feed(connected(device_id))
    await feed(DeviceDisconnectedV1(customer_id=CUSTOMER, device_id="c", at=now()))
    expired = event_bytes(
        SubscriptionExpiredV1(
            customer_id=CUSTOMER, subscription_id="sub-1", product_id="basic", expired_at=now()
        )
    )
    # The same event twice (a redelivery), then another end of the same subscription.
    for _ in range(2):
        await runtime.consumer.process(
            topics.BILLING_EVENTS, consumer_record(topics.BILLING_EVENTS, expired)
        )
    await feed(
        SubscriptionCancelledV1(
            customer_id=CUSTOMER, subscription_id="sub-1", product_id="basic", cancelled_at=now()
        )
    )

    logouts = await sent(db, "device.logout.v1")
    assert sorted(r.data["device_id"] for r in logouts) == ["a", "b"]  # not the offline "c"
    assert {(r.topic, r.key, r.data["reason"]) for r in logouts} == {
        (topics.APPS_COMMANDS, CUSTOMER, "subscription_ended")
    }
    # Bindings stay for a renewal; until then nothing connects, and nothing shows online.
    assert await device_ids(db) == ["a", "b", "c"]
    async with db.sessions() as session:
        page = await devices.list_devices(session, CUSTOMER, offline_after=OFFLINE_AFTER)
    assert not any(d.online for d in page.items)
    await feed(connected("a"))
    [rejected] = await sent(db, "device.rejected.v1")
    assert rejected.data["reason"] == "no_active_subscription"
    await feed(activated(3))
    await feed(connected("a"))
    assert len(await sent(db, "device.rejected.v1")) == 1


async def test_unbinding_removes_the_device_and_logs_it_out(
    db: Database, feed: Feed, outbox: Outbox
) -> None:
    await feed(activated(1))
    await feed(connected("a"))
    async with db.transaction() as session:
        await devices.unbind(session, outbox, CUSTOMER, "a")
    with pytest.raises(Problem) as missing:
        async with db.transaction() as session:
            await devices.unbind(session, outbox, CUSTOMER, "a")
    assert missing.value.status == 404

    assert await device_ids(db) == []
    [logout] = await sent(db, "device.logout.v1")
    assert (logout.topic, logout.data["reason"]) == (topics.APPS_COMMANDS, "unbound_by_operator")
    # The freed place is there for another device.
    await feed(connected("b"))
    assert await device_ids(db) == ["b"]


async def test_online_follows_heartbeats_disconnects_and_the_offline_delay(
    db: Database, feed: Feed
) -> None:
    await feed(activated(3))
    await feed(connected("silent", at=now() - timedelta(minutes=10)))
    await feed(connected("beating", at=now() - timedelta(minutes=10)))
    await feed(DeviceHeartbeatV1(customer_id=CUSTOMER, device_id="beating", at=now()))
    await feed(connected("gone"))
    await feed(DeviceDisconnectedV1(customer_id=CUSTOMER, device_id="gone", at=now()))
    # A heartbeat of a device we never admitted is nothing.
    await feed(DeviceHeartbeatV1(customer_id=CUSTOMER, device_id="stranger", at=now()))

    async with db.sessions() as session:
        page = await devices.list_devices(session, CUSTOMER, offline_after=OFFLINE_AFTER)
        stats = await devices.stats(session, offline_after=OFFLINE_AFTER)
    assert {d.id: d.online for d in page.items} == {
        "silent": False,
        "beating": True,
        "gone": False,
    }
    assert (stats.devices_online, stats.devices_total) == (1, 3)
    beating = next(d for d in page.items if d.id == "beating")
    assert (beating.kind, beating.model, beating.os, beating.app_version, beating.ip) == (
        "stb",
        "X1",
        "Linux",
        "1.2.3",
        "192.0.2.10",
    )


async def test_concurrent_connects_never_end_above_the_limit(db: Database) -> None:
    """Two consumer replicas deciding at once: each connection in its own transaction, all
    started together. The customer's limit row is locked while deciding (FOR UPDATE)."""
    customers = [f"c0ffee00-0000-4000-8000-00000000010{n}" for n in range(3)]
    async with service_runtime(SPEC, db) as first, service_runtime(SPEC, db) as second:
        for number, customer_id in enumerate(customers):
            record = consumer_record(
                topics.BILLING_EVENTS,
                event_bytes(activated(2, customer_id=customer_id), event_id=f"sub-{number}"),
            )
            assert await first.consumer.process(topics.BILLING_EVENTS, record) == "handled"
        records = [
            consumer_record(
                topics.APPS_EVENTS,
                event_bytes(connected(f"dev-{n}", customer_id=customer_id)),
                key=customer_id.encode(),
            )
            for customer_id in customers
            for n in range(6)
        ]
        outcomes = await asyncio.gather(
            *(
                (first if n % 2 else second).consumer.process(topics.APPS_EVENTS, record)
                for n, record in enumerate(records)
            )
        )
    assert set(outcomes) == {"handled"}
    for customer_id in customers:
        assert len(await device_ids(db, customer_id)) == 2
    async with db.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(Device))
    assert total == 6
    assert len(await sent(db, "device.rejected.v1")) == 12


async def test_first_news_of_a_customer_on_two_topics_at_once_both_apply(
    db: Database, outbox: Outbox
) -> None:
    """The account (customers.events) and the subscription (billing.events) of a new customer
    handled at the same moment by two consumers: neither fails on the other's new row."""
    if db.dialect == "sqlite":
        pytest.skip("SQLite admits one writer at a time; the race needs PostgreSQL")
    disabled = AccountUpdatedV1(customer_id=CUSTOMER, login="1", disabled=True, updated_at=now())

    async def account() -> None:
        async with db.transaction() as session:
            await customer_events.follow_account(session, outbox, disabled)

    async def subscription() -> None:
        async with db.transaction() as session:
            await customer_events.follow_subscription(session, outbox, activated(2))

    await asyncio.gather(account(), subscription())

    async with db.sessions() as session:
        limit = await session.get(models.DeviceLimit, CUSTOMER)
    assert limit is not None
    assert (limit.disabled, limit.max_devices) == (True, 2)
