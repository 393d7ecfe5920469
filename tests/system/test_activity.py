"""Activity end to end on real Kafka: the device limit under concurrent connects (two activity
replicas), the limit following the product, unbinding, favorites and recordings, profile
deletion, dead letters of bad app events, and the app simulator feeding the system."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from deploy.local.kafka import free_port
from deploy.local.processes import ServiceProcess
from services.contracts.apps import (
    DeviceConnectedV1,
    DeviceHeartbeatV1,
    FavoriteAddedV1,
    FavoriteRemovedV1,
    RecordingCompletedV1,
    RecordingScheduledV1,
)
from services.contracts.envelope import CloudEvent, EventData
from tests.system.conftest import System, eventually

Seen = tuple[str, dict[str, Any] | None, bytes | None, dict[str, bytes]]


class Apps:
    """The TV apps as seen from Kafka: they report on apps.events and read apps.commands; the
    test also reads activity.events and the dead letters of apps.events."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.producer = AIOKafkaProducer(bootstrap_servers=system.kafka)
        self.reader = AIOKafkaConsumer(
            system.topic("apps.commands"),
            system.topic("activity.events"),
            system.topic("apps.events.dlq"),
            bootstrap_servers=system.kafka,
            auto_offset_reset="earliest",
            group_id=None,
        )
        self.seen: list[Seen] = []

    async def start(self) -> None:
        await self.producer.start()
        await self.reader.start()

    async def stop(self) -> None:
        await self.producer.stop()
        await self.reader.stop()

    async def send(self, topic: str, data: EventData | bytes, key: str) -> bytes:
        raw = (
            data
            if isinstance(data, bytes)
            else CloudEvent.wrap(data, source="/tests/apps", subject=key).to_bytes()
        )
        await self.producer.send_and_wait(self.system.topic(topic), raw, key=key.encode())
        return raw

    async def _drain(self) -> None:
        batches = await self.reader.getmany(timeout_ms=200)
        for records in batches.values():
            for record in records:
                try:
                    body = json.loads(record.value or b"")
                except ValueError:
                    body = None
                topic = record.topic.removeprefix(self.system.prefix)
                self.seen.append((topic, body, record.value, dict(record.headers or ())))

    async def events(self, topic: str, event_type: str, customer_id: str) -> list[dict[str, Any]]:
        await self._drain()
        return [
            body["data"]
            for t, body, _raw, _headers in self.seen
            if t == topic
            and body
            and body.get("type") == event_type
            and body["data"].get("customer_id") == customer_id
        ]

    async def wait_for(
        self,
        topic: str,
        event_type: str,
        customer_id: str,
        count: int = 1,
        match: Callable[[dict[str, Any]], bool] = lambda _: True,
    ) -> list[dict[str, Any]]:
        async def enough() -> list[dict[str, Any]] | None:
            found = [e for e in await self.events(topic, event_type, customer_id) if match(e)]
            return found if len(found) >= count else None

        return await eventually(enough, what=f"{count} {event_type} on {topic}")

    async def dead_letter(self, raw: bytes) -> dict[str, bytes]:
        async def find() -> dict[str, bytes] | None:
            await self._drain()
            for topic, _body, value, headers in self.seen:
                if (
                    topic == "apps.events.dlq"
                    and value == raw
                    and headers.get("x-dlq-consumer") == b"activity"
                ):
                    return headers
            return None

        return await eventually(find, what="the dead letter")


@pytest.fixture
async def apps(system: System) -> AsyncIterator[Apps]:
    client = Apps(system)
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


async def _get(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _customer_with_limit(client: httpx.AsyncClient, product: str = "basic") -> str:
    """A customer sold `product` through the gateway, once activity knows its device limit."""
    response = await client.post(
        "/api/v1/customers",
        json={
            "webshop_id": "shop-eu",
            "product_id": product,
            "plan_id": f"{product}-1m",
            "extra_product_ids": [],
            "info": {"first_name": "Dev", "last_name": f"Ice{uuid.uuid4().hex[:6]}"},
            "credentials": None,
        },
    )
    assert response.status_code == 201, response.text
    customer_id: str = response.json()["id"]

    async def limit_known() -> int | None:
        body = await _get(client, f"/api/v1/customers/{customer_id}/devices")
        limit: int | None = body["max_devices"]
        return limit

    await eventually(limit_known, what="the device limit")
    return customer_id


def _connected(customer_id: str, device_id: str, at: datetime | None = None) -> DeviceConnectedV1:
    return DeviceConnectedV1(
        customer_id=customer_id,
        device_id=device_id,
        kind="smart_tv",
        model="QE55",
        os="Tizen",
        app_version="5.0.1",
        ip="198.51.100.7",
        connected_at=at or datetime.now(UTC),
    )


async def _device_ids(client: httpx.AsyncClient, customer_id: str) -> list[str]:
    body = await _get(client, f"/api/v1/customers/{customer_id}/devices")
    return sorted(d["id"] for d in body["items"])


def _second_activity_replica(system: System) -> ServiceProcess:
    first = system.processes["activity"]
    port = free_port()
    env = {**first.env, "ACTIVITY_PORT": str(port)}
    return ServiceProcess(
        "activity-2",
        "services.activity.app",
        port,
        env,
        first.log_file.with_name("activity-2.log"),
    )


async def _group_members(system: System, group: str) -> int | None:
    """How many consumers the group has once it is stable (None while rebalancing)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=system.kafka)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
        _error, _name, state, _type, _protocol, members = response.groups[0]
    finally:
        await admin.close()
    return len(members) if state == "Stable" else None


async def test_concurrent_connects_never_put_a_customer_above_the_limit(
    system: System, apps: Apps
) -> None:
    replica = _second_activity_replica(system)
    replica.start()
    try:
        await asyncio.to_thread(replica.wait_ready)

        async def both_replicas_consume() -> bool:
            return (await _group_members(system, system.topic("activity")) or 0) >= 2

        await eventually(both_replicas_consume, what="the second replica to join the group")
        async with system.client() as client:
            customers = [await _customer_with_limit(client) for _ in range(3)]
            await asyncio.gather(
                *(
                    apps.send("apps.events", _connected(customer_id, f"tv-{n}"), customer_id)
                    for customer_id in customers
                    for n in range(8)
                )
            )
            for customer_id in customers:
                registered = await apps.wait_for(
                    "activity.events", "device.registered.v1", customer_id, count=2
                )
                rejected = await apps.wait_for(
                    "activity.events", "device.rejected.v1", customer_id, count=6
                )
                assert len(registered) == 2
                assert {r["reason"] for r in rejected} == {"device_limit_reached"}
                assert len(await _device_ids(client, customer_id)) == 2
    finally:
        await asyncio.to_thread(replica.stop)


async def test_the_limit_follows_a_product_change_at_once(system: System, apps: Apps) -> None:
    async with system.client() as client:
        customer_id = await _customer_with_limit(client, "premium")
        start = datetime.now(UTC) - timedelta(minutes=30)
        for n in range(4):
            await apps.send(
                "apps.events",
                _connected(customer_id, f"dev-{n}", at=start + timedelta(minutes=n)),
                customer_id,
            )
        await apps.wait_for("activity.events", "device.registered.v1", customer_id, count=4)

        # The operator changes the customer to a product with fewer devices, through billing.
        changed_now = await client.post(
            f"/api/v1/customers/{customer_id}/subscription/change",
            json={
                "product_id": "basic",
                "plan_id": "basic-1m",
                "extra_product_ids": [],
                "starts": "now",
            },
        )
        assert changed_now.status_code == 200, changed_now.text

        logouts = await apps.wait_for("apps.commands", "device.logout.v1", customer_id, count=2)
        assert sorted(e["device_id"] for e in logouts) == ["dev-0", "dev-1"]
        assert {e["reason"] for e in logouts} == {"evicted_by_limit"}
        body = await _get(client, f"/api/v1/customers/{customer_id}/devices")
        assert body["max_devices"] == 2
        assert sorted(d["id"] for d in body["items"]) == ["dev-2", "dev-3"]
        changed = await apps.wait_for(
            "activity.events", "device_limit.changed.v1", customer_id, count=2
        )
        assert [e["max_devices"] for e in changed] == [5, 2]


async def test_a_subscription_cancelled_now_logs_out_the_connected_devices(
    system: System, apps: Apps
) -> None:
    async with system.client() as client:
        customer_id = await _customer_with_limit(client)
        for device_id in ("stb-1", "tv-1"):
            await apps.send("apps.events", _connected(customer_id, device_id), customer_id)
        await apps.wait_for("activity.events", "device.registered.v1", customer_id, count=2)

        response = await client.post(
            f"/api/v1/customers/{customer_id}/subscription/cancel", json={"when": "now"}
        )
        assert response.status_code == 200, response.text

        logouts = await apps.wait_for("apps.commands", "device.logout.v1", customer_id, count=2)
        assert sorted(e["device_id"] for e in logouts) == ["stb-1", "tv-1"]
        assert {e["reason"] for e in logouts} == {"subscription_ended"}
        # The bindings stay (for a renewal); a reconnect is refused meanwhile.
        assert await _device_ids(client, customer_id) == ["stb-1", "tv-1"]
        await apps.send("apps.events", _connected(customer_id, "stb-1"), customer_id)
        [rejected] = await apps.wait_for("activity.events", "device.rejected.v1", customer_id)
        assert rejected["reason"] == "no_active_subscription"
        # ... and the refused app is told why on apps.commands.
        [told] = await apps.wait_for(
            "apps.commands",
            "device.logout.v1",
            customer_id,
            match=lambda e: e["reason"] == "no_active_subscription",
        )
        assert told["device_id"] == "stb-1"


async def test_a_subscription_the_scheduler_expires_logs_out_the_connected_devices(
    system: System, apps: Apps
) -> None:
    async with system.client() as client:
        customer_id = await _customer_with_limit(client)
        await apps.send("apps.events", _connected(customer_id, "stb-9"), customer_id)
        await apps.wait_for("activity.events", "device.registered.v1", customer_id)

        # An expiry a few seconds ahead; billing's own scheduler ends the period.
        moved = await client.put(
            f"/api/v1/customers/{customer_id}/subscription/expiry",
            json={
                "expires_at": (datetime.now(UTC) + timedelta(seconds=3)).isoformat(),
                "reason": "system test",
            },
        )
        assert moved.status_code == 200, moved.text

        [logout] = await apps.wait_for("apps.commands", "device.logout.v1", customer_id)
        assert logout["device_id"] == "stb-9"
        assert logout["reason"] == "subscription_ended"


async def test_an_unbound_device_is_logged_out(system: System, apps: Apps) -> None:
    async with system.client() as client:
        customer_id = await _customer_with_limit(client)
        await apps.send("apps.events", _connected(customer_id, "stb-1"), customer_id)
        await eventually(lambda: _device_ids(client, customer_id), what="the device to be bound")

        response = await client.delete(f"/api/v1/customers/{customer_id}/devices/stb-1")
        assert response.status_code == 204, response.text
        again = await client.delete(f"/api/v1/customers/{customer_id}/devices/stb-1")
        assert again.status_code == 404
        assert again.headers["content-type"].startswith("application/problem+json")

        [logout] = await apps.wait_for("apps.commands", "device.logout.v1", customer_id)
        assert logout == {
            "customer_id": customer_id,
            "device_id": "stb-1",
            "reason": "unbound_by_operator",
        }
        assert await _device_ids(client, customer_id) == []


async def test_favorites_and_recordings_appear_and_go_with_their_profile(
    system: System, apps: Apps
) -> None:
    async with system.client() as client:
        customer_id = await _customer_with_limit(client)
        base = f"/api/v1/customers/{customer_id}"
        # The customer's default profile, and one the operator adds: both announced by the
        # customers service, so activity takes what the apps save to them.
        [main] = (await _get(client, f"{base}/profiles"))["items"]
        added = await client.post(f"{base}/profiles", json={"name": "Kids", "kids": True})
        assert added.status_code == 201, added.text
        kids_id: str = added.json()["id"]
        main_id: str = main["id"]
        now = datetime.now(UTC)
        for profile_id, item_id in ((kids_id, "ch-cartoons"), (main_id, "ch-news")):
            favorite = FavoriteAddedV1(
                customer_id=customer_id,
                profile_id=profile_id,
                item_type="channel",
                item_id=item_id,
                title=item_id,
                at=now,
            )
            await apps.send("apps.events", favorite, customer_id)
            await apps.send("apps.events", favorite, customer_id)  # the app repeats itself
        await apps.send(
            "apps.events",
            RecordingScheduledV1(
                customer_id=customer_id,
                profile_id=kids_id,
                recording_id="rec-1",
                channel_id="ch-cartoons",
                programme_id="prog-1",
                title="Cartoon Club",
                starts_at=now - timedelta(hours=2),
                ends_at=now - timedelta(hours=1),
                at=now - timedelta(hours=3),
            ),
            customer_id,
        )
        await apps.send(
            "apps.events",
            RecordingCompletedV1(
                customer_id=customer_id, recording_id="rec-1", size_bytes=734003200, at=now
            ),
            customer_id,
        )

        async def recorded() -> dict[str, Any] | None:
            page = await _get(client, f"{base}/recordings")
            items = page["items"]
            return items[0] if items and items[0]["state"] == "completed" else None

        recording = await eventually(recorded, what="the completed recording")
        assert recording["size_bytes"] == 734003200

        async def both_favorites() -> list[str] | None:
            items = (await _get(client, f"{base}/favorites"))["items"]
            ids = sorted(i["item_id"] for i in items)
            return ids if len(ids) == 2 else None

        assert await eventually(both_favorites, what="both favorites") == [
            "ch-cartoons",
            "ch-news",
        ]
        kids = await _get(client, f"{base}/favorites", profile_id=kids_id)
        assert [i["item_id"] for i in kids["items"]] == ["ch-cartoons"]
        async with system.service_client("activity") as activity:
            timeline = await _get(activity, f"/customers/{customer_id}/timeline")
        assert [i["kind"] for i in timeline["items"]] == [
            "favorite.added",
            "favorite.added",
            "recording.completed",
            "recording.scheduled",
        ]

        # The operator deletes the profile: its recordings and favorites go with it.
        deleted = await client.delete(f"{base}/profiles/{kids_id}")
        assert deleted.status_code == 204, deleted.text

        async def kids_gone() -> bool:
            page = await _get(client, f"{base}/recordings")
            return not page["items"]

        await eventually(kids_gone, what="the profile's recordings to go")
        favorites = await _get(client, f"{base}/favorites")
        assert [i["item_id"] for i in favorites["items"]] == ["ch-news"]

        removed = await client.delete(f"{base}/favorites/{favorites['items'][0]['id']}")
        assert removed.status_code == 204, removed.text
        assert (await _get(client, f"{base}/favorites"))["items"] == []


async def test_malformed_app_events_land_in_the_dead_letter_topic(
    system: System, apps: Apps
) -> None:
    customer_id = str(uuid.uuid4())
    garbage = await apps.send("apps.events", b'{"specversion": "1.0", "oops', customer_id)
    invalid = _connected(customer_id, "toaster-1").model_dump(mode="json")
    invalid["kind"] = "toaster"
    invalid_raw = json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/tests/apps",
            "type": "device.connected.v1",
            "time": datetime.now(UTC).isoformat(),
            "data": invalid,
        }
    ).encode()
    await apps.send("apps.events", invalid_raw, customer_id)
    now = datetime.now(UTC)
    backwards = await apps.send(
        "apps.events",
        RecordingScheduledV1(
            customer_id=customer_id,
            profile_id="p-main",
            recording_id="rec-backwards",
            channel_id="ch-1",
            programme_id="prog-1",
            title="Time Travel",
            starts_at=now,
            ends_at=now - timedelta(hours=1),
            at=now,
        ),
        customer_id,
    )

    assert b"invalid CloudEvent envelope" in (await apps.dead_letter(garbage))["x-dlq-reason"]
    assert b"kind" in (await apps.dead_letter(invalid_raw))["x-dlq-reason"]
    reason = (await apps.dead_letter(backwards))["x-dlq-reason"]
    assert b"before it starts" in reason


async def test_the_app_simulator_feeds_the_system(system: System) -> None:
    async with system.client() as client:
        customer_id = await _customer_with_limit(client, "premium")
        result = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "deploy.simulator",
                "--customers",
                customer_id,
                "--events",
                "80",
                "--rate",
                "0",
                "--seed",
                "3",
                "--bootstrap-servers",
                system.kafka,
                "--topic-prefix",
                system.prefix,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["events"] == 80
        base = f"/api/v1/customers/{customer_id}"

        async def activity_seen() -> bool:
            devices = await _get(client, f"{base}/devices")
            favorites = await _get(client, f"{base}/favorites")
            return bool(devices["items"]) and bool(favorites["items"])

        await eventually(activity_seen, what="the simulated activity")
        async with system.service_client("activity") as activity:
            stats = await _get(activity, "/stats")
        assert 0 <= stats["devices_online"] <= stats["devices_total"]
        assert stats["devices_total"] >= 1


async def test_a_flood_of_app_events_keeps_every_guarantee(system: System, apps: Apps) -> None:
    """One burst, sent as one producer batch so that activity takes it in one poll: duplicates,
    heartbeats out of order, connects beyond the limit, a favorite added, removed and added
    again, and a poison record among them. Each effect lands once, last-seen only moves
    forwards, the limit holds, and only the poison record goes to the dead-letter topic."""
    async with system.client() as client:
        crowded = await _customer_with_limit(client)  # basic: 2 devices
        quiet = await _customer_with_limit(client)
        # The customer's default profile, which activity knows from the customers service.
        [main] = (await _get(client, f"/api/v1/customers/{crowded}/profiles"))["items"]
        main_id: str = main["id"]
        start = datetime.now(UTC) - timedelta(hours=1)
        await apps.send("apps.events", _connected(quiet, "stb-q", at=start), quiet)
        await apps.wait_for("activity.events", "device.registered.v1", quiet)

        def minutes(n: int) -> datetime:
            return start + timedelta(minutes=n)

        def beat(customer_id: str, device_id: str, at: datetime) -> bytes:
            data = DeviceHeartbeatV1(customer_id=customer_id, device_id=device_id, at=at)
            return CloudEvent.wrap(data, source="/tests/apps", subject=customer_id).to_bytes()

        def item(kind: type[FavoriteAddedV1 | FavoriteRemovedV1], item_id: str, at: int) -> bytes:
            data = kind(
                customer_id=crowded,
                profile_id=main_id,
                item_type="channel",
                item_id=item_id,
                title=f"{item_id} at {at}",
                at=minutes(at),
            )
            return CloudEvent.wrap(data, source="/tests/apps", subject=crowded).to_bytes()

        def wrapped(data: EventData, customer_id: str) -> bytes:
            return CloudEvent.wrap(data, source="/tests/apps", subject=customer_id).to_bytes()

        repeated_beat = beat(crowded, "tv-1", minutes(5))
        poison = wrapped(
            RecordingScheduledV1(
                customer_id=crowded,
                profile_id=main_id,
                recording_id="rec-backwards",
                channel_id="ch-1",
                programme_id="prog-1",
                title="Time Travel",
                starts_at=minutes(90),
                ends_at=minutes(30),
                at=minutes(1),
            ),
            crowded,
        )
        burst: list[tuple[str, bytes]] = [
            (crowded, beat(crowded, "tv-1", minutes(1))),  # before its connect: unknown
            *(
                (crowded, wrapped(_connected(crowded, f"tv-{n}", at=minutes(0)), crowded))
                for n in range(1, 5)
            ),
            (crowded, repeated_beat),
            (crowded, repeated_beat),
            (crowded, beat(crowded, "tv-1", minutes(10))),
            (crowded, beat(crowded, "tv-1", minutes(2))),  # older, arrives later
            (crowded, beat(crowded, "tv-2", minutes(3))),
            (crowded, beat(crowded, "tv-2", minutes(1))),
            (crowded, beat(crowded, "tv-3", minutes(4))),  # refused device: ignored
            (crowded, poison),
            (crowded, item(FavoriteAddedV1, "ch-1", 1)),
            (crowded, item(FavoriteRemovedV1, "ch-1", 2)),
            (crowded, item(FavoriteAddedV1, "ch-1", 3)),
            (crowded, item(FavoriteAddedV1, "ch-1", 4)),
            (crowded, item(FavoriteAddedV1, "ch-2", 5)),
            (quiet, beat(quiet, "stb-q", minutes(7))),
            (quiet, beat(quiet, "stb-q", minutes(20))),
            (quiet, beat(quiet, "stb-q", minutes(8))),  # older, arrives last
        ]
        burst.append((crowded, burst[1][1]))  # a connect delivered twice
        sends = [
            await apps.producer.send(system.topic("apps.events"), raw, key=key.encode())
            for key, raw in burst
        ]
        await apps.producer.flush()
        await asyncio.gather(*sends)
        marker = item(FavoriteAddedV1, "ch-last", 60)
        await apps.send("apps.events", marker, crowded)

        base = f"/api/v1/customers/{crowded}"

        async def all_applied() -> list[dict[str, Any]] | None:
            page = await _get(client, f"{base}/favorites")
            items: list[dict[str, Any]] = page["items"]
            return items if any(i["item_id"] == "ch-last" for i in items) else None

        favorites = {i["item_id"]: i for i in await eventually(all_applied, what="the burst")}
        assert sorted(favorites) == ["ch-1", "ch-2", "ch-last"]
        assert favorites["ch-1"]["title"] == "ch-1 at 4"  # the last add's title
        assert datetime.fromisoformat(favorites["ch-1"]["added_at"]) == minutes(3)

        devices = await _get(client, f"{base}/devices")
        seen = {d["id"]: datetime.fromisoformat(d["last_seen_at"]) for d in devices["items"]}
        assert seen == {"tv-1": minutes(10), "tv-2": minutes(3)}
        quiet_devices = await _get(client, f"/api/v1/customers/{quiet}/devices")
        [stb] = quiet_devices["items"]
        assert datetime.fromisoformat(stb["last_seen_at"]) == minutes(20)

        await apps.wait_for("activity.events", "device.registered.v1", crowded, count=2)
        await apps.wait_for("activity.events", "device.rejected.v1", crowded, count=2)
        # Nothing beyond those: the repeated connect, the duplicates, changed nothing twice.
        registered = await apps.events("activity.events", "device.registered.v1", crowded)
        rejected = await apps.events("activity.events", "device.rejected.v1", crowded)
        assert sorted(e["device_id"] for e in registered) == ["tv-1", "tv-2"]
        assert sorted(e["device_id"] for e in rejected) == ["tv-3", "tv-4"]
        assert {e["reason"] for e in rejected} == {"device_limit_reached"}

        reason = (await apps.dead_letter(poison))["x-dlq-reason"]
        assert b"before it starts" in reason
        await apps._drain()
        dead = [
            raw
            for topic, _b, raw, _h in apps.seen
            if topic == "apps.events.dlq" and raw and crowded.encode() in raw
        ]
        assert dead == [poison]
