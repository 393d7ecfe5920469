"""Bulk add, profiles, erasure and the timeline end to end: gateway in, real Kafka, every
service following (SQLite files and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.contracts.apps import DeviceConnectedV1, FavoriteAddedV1
from services.contracts.envelope import CloudEvent, EventData
from tests.system.conftest import System, eventually

SALE = {"webshop_id": "shop-eu", "product_id": "basic", "plan_id": "basic-1m"}


class CustomerEvents:
    """customers.events as any consumer sees it, from the beginning."""

    def __init__(self, system: System) -> None:
        self.consumer = AIOKafkaConsumer(
            system.topic("customers.events"),
            bootstrap_servers=system.kafka,
            auto_offset_reset="earliest",
            group_id=None,
        )
        self.seen: list[dict[str, Any]] = []

    async def __aenter__(self) -> CustomerEvents:
        await self.consumer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.consumer.stop()

    async def of(self, customer_id: str, event_type: str) -> list[dict[str, Any]]:
        batches = await self.consumer.getmany(timeout_ms=200)
        for records in batches.values():
            self.seen += [json.loads(r.value or b"{}") for r in records]
        return [e for e in self.seen if e["subject"] == customer_id and e["type"] == event_type]

    async def wait_for(
        self, customer_id: str, event_type: str, count: int = 1
    ) -> list[dict[str, Any]]:
        async def found() -> list[dict[str, Any]] | None:
            events = await self.of(customer_id, event_type)
            return events if len(events) >= count else None

        return await eventually(found, what=f"{event_type} of {customer_id}")


class Apps:
    """The TV apps as seen from Kafka: events on apps.events, keyed by customer id."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.producer = AIOKafkaProducer(bootstrap_servers=system.kafka)

    async def __aenter__(self) -> Apps:
        await self.producer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.producer.stop()

    async def send(self, customer_id: str, data: EventData) -> None:
        event = CloudEvent.wrap(data, source="/apps/test", subject=customer_id)
        await self.producer.send_and_wait(
            self.system.topic("apps.events"), event.to_bytes(), key=customer_id.encode()
        )

    async def favorite(self, customer_id: str, profile_id: str, item_id: str) -> None:
        await self.send(
            customer_id,
            FavoriteAddedV1(
                customer_id=customer_id,
                profile_id=profile_id,
                item_type="channel",
                item_id=item_id,
                title=item_id,
                at=datetime.now(UTC),
            ),
        )


async def _json(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def _add_customer(client: httpx.AsyncClient, last_name: str) -> str:
    body: dict[str, Any] = {
        **SALE,
        "extra_product_ids": [],
        "info": {"first_name": "Erin", "last_name": last_name, "email": f"{last_name}@ex.com"},
        "credentials": None,
    }
    created = await _json(await client.post("/api/v1/customers", json=body), 201)
    customer_id: str = created["id"]
    return customer_id


async def _active(client: httpx.AsyncClient, customer_id: str) -> None:
    async def check() -> bool:
        response = await client.get(f"/api/v1/customers/{customer_id}")
        return response.status_code == 200 and response.json()["status"] == "active"

    await eventually(check, what=f"{customer_id} to turn active")


async def _items_at(client: httpx.AsyncClient, path: str) -> list[Any]:
    items: list[Any] = (await _json(await client.get(path)))["items"]
    return items


async def _billing_revenue(system: System) -> list[Any]:
    """Billing's revenue per day and currency, straight from the service."""
    async with system.service_client("billing") as billing:
        revenue: list[Any] = (await _json(await billing.get("/stats")))["revenue_per_day"]
    return revenue


async def _run_batch(client: httpx.AsyncClient, **job: Any) -> dict[str, Any]:
    body = {**SALE, "first_name": "Hotel System", **job}
    key = str(uuid.uuid4())
    batch = await _json(
        await client.post("/api/v1/customer-batches", json=body, headers={"Idempotency-Key": key}),
        202,
    )
    again = await client.post(
        "/api/v1/customer-batches", json=body, headers={"Idempotency-Key": key}
    )
    assert (again.status_code, again.json()["id"]) == (202, batch["id"])
    assert again.headers["Idempotent-Replayed"] == "true"
    result: dict[str, Any] = batch
    return result


async def _items(client: httpx.AsyncClient, batch_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 50, **({"cursor": cursor} if cursor else {})}
        page = await _json(
            await client.get(f"/api/v1/customer-batches/{batch_id}/items", params=params)
        )
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def _completed(client: httpx.AsyncClient, batch_id: str, timeout: float) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        body: dict[str, Any] = await _json(await client.get(f"/api/v1/customer-batches/{batch_id}"))
        return body if body["status"] == "completed" else None

    return await eventually(check, timeout=timeout, what=f"job {batch_id} to complete")


async def test_a_bulk_add_of_20_makes_20_active_customers_with_one_ledger_entry_each(
    system: System,
) -> None:
    prefix = f"B{uuid.uuid4().hex[:6]} "
    async with system.client() as client:
        batch = await _run_batch(client, count=20, last_name_prefix=prefix, digits=3)
        done = await _completed(client, batch["id"], timeout=90)
        assert (done["created"], done["failed"]) == (20, 0)

        items = await _items(client, batch["id"])
        assert [i["number"] for i in items] == list(range(1, 21))
        assert all(i["password"] and i["password"].isdigit() for i in items)
        assert all(i["password"] is None for i in await _items(client, batch["id"]))

        async def all_active() -> dict[str, Any] | None:
            page = await _json(
                await client.get(
                    "/api/v1/customers",
                    params={"q": prefix.lower(), "status_group": "active", "limit": 50},
                )
            )
            # The total and the page are two reads while statuses still arrive: wait for both.
            return page if page["total"] == 20 and len(page["items"]) == 20 else None

        page = await eventually(all_active, timeout=60, what="20 active customers")
        assert {c["info"]["last_name"] for c in page["items"]} == {
            f"{prefix}{n:03d}" for n in range(1, 21)
        }
        for item in items:
            response = await client.get(f"/api/v1/customers/{item['customer_id']}/transactions")
            ledger = (await _json(response))["items"]
            assert [(t["kind"], t["amount"]) for t in ledger] == [("charge", "9.99")]


async def test_customers_killed_mid_job_resumes_it_and_makes_every_number_once(
    system: System,
) -> None:
    total = 120
    prefix = f"K{uuid.uuid4().hex[:6]} "
    async with system.client() as client:
        batch = await _run_batch(
            client, count=total, last_name_prefix=prefix, login_prefix=prefix.strip() + "-"
        )

        async def under_way() -> bool:
            body = await _json(await client.get(f"/api/v1/customer-batches/{batch['id']}"))
            return bool(body["created"] >= 10)

        await eventually(under_way, timeout=60, what="the job to be under way")
        customers = system.processes["customers"]
        customers.kill()
        await asyncio.to_thread(customers.start)
        await asyncio.to_thread(customers.wait_ready, 90.0)

        # Cut off: the dead worker's lease (15 s) still runs, so nobody works the job yet...
        cut_off = await _json(await client.get(f"/api/v1/customer-batches/{batch['id']}"))
        assert cut_off["status"] == "running" and 10 <= cut_off["created"] < total
        # ... until it ends, and the restarted service's worker finishes the job.
        done = await _completed(client, batch["id"], timeout=120)
        assert (done["created"], done["failed"]) == (total, 0)
        items = await _items(client, batch["id"])
        assert [i["number"] for i in items] == list(range(1, total + 1))
        assert len({i["customer_id"] for i in items}) == total
        assert [i["login"] for i in items] == [
            f"{prefix.strip()}-{n:03d}" for n in range(1, total + 1)
        ]
        listed = await _json(
            await client.get("/api/v1/customers", params={"q": prefix.lower(), "limit": 1})
        )
        assert listed["total"] == total

        async def all_active() -> bool:
            page = await _json(
                await client.get(
                    "/api/v1/customers",
                    params={"q": prefix.lower(), "status_group": "active", "limit": 1},
                )
            )
            return bool(page["total"] == total)

        await eventually(all_active, timeout=120, what="every customer of the job active")


async def test_profiles_are_created_and_deleted_with_their_events(system: System) -> None:
    async with system.client() as client, CustomerEvents(system) as events, Apps(system) as apps:
        customer_id = await _add_customer(client, f"Prof{uuid.uuid4().hex[:6]}")
        base = f"/api/v1/customers/{customer_id}/profiles"
        [default] = (await _json(await client.get(base)))["items"]
        assert (default["name"], default["is_default"]) == ("Main", True)

        kids = await _json(
            await client.post(
                base, json={"name": "Kids", "kids": True, "pin": "2468", "avatar": "owl"}
            ),
            201,
        )
        renamed = await _json(await client.patch(f"{base}/{kids['id']}", json={"name": "Tiny"}))
        await apps.favorite(customer_id, kids["id"], "cartoons")
        await apps.favorite(customer_id, default["id"], "news")
        favorites = f"/api/v1/customers/{customer_id}/favorites"

        async def favorites_of(profile_id: str) -> list[Any]:
            return await _items_at(client, f"{favorites}?profile_id={profile_id}")

        await eventually(lambda: favorites_of(kids["id"]), what="the kids' favorite")
        await eventually(lambda: favorites_of(default["id"]), what="the main favorite")
        assert (renamed["name"], renamed["has_pin"]) == ("Tiny", True)
        deleted = await client.delete(f"{base}/{kids['id']}")
        assert deleted.status_code == 204
        assert (await client.delete(f"{base}/{kids['id']}")).status_code == 404
        last = await client.delete(f"{base}/{default['id']}")
        assert last.status_code == 409

        created = await events.wait_for(customer_id, "profile.created.v1", count=2)
        assert {e["data"]["profile_id"] for e in created} == {default["id"], kids["id"]}
        [gone] = await events.wait_for(customer_id, "profile.deleted.v1")
        assert gone["data"]["profile_id"] == kids["id"]

        # activity drops the deleted profile's favorites, and only those.
        async def kids_favorites_gone() -> bool:
            return not await favorites_of(kids["id"])

        await eventually(kids_favorites_gone, what="the deleted profile's favorites to go")
        assert [f["item_id"] for f in await favorites_of(default["id"])] == ["news"]


async def test_erasure_removes_the_customer_everywhere_and_a_repeat_changes_nothing(
    system: System,
) -> None:
    last_name = f"Erase{uuid.uuid4().hex[:6]}"
    async with system.client() as client, CustomerEvents(system) as events, Apps(system) as apps:
        customer_id = await _add_customer(client, last_name)
        await _active(client, customer_id)
        base = f"/api/v1/customers/{customer_id}"
        await apps.send(
            customer_id,
            DeviceConnectedV1(
                customer_id=customer_id,
                device_id=f"stb-{last_name}",
                kind="stb",
                model="X1",
                ip="198.51.100.7",
                connected_at=datetime.now(UTC),
            ),
        )
        await eventually(lambda: _items_at(client, f"{base}/devices"), what="the device")
        ledger_before = (await _json(await client.get(f"{base}/transactions")))["items"]
        revenue_before = await _billing_revenue(system)
        await _json(
            await client.post(
                f"{base}/tickets", json={"subject": f"Call from {last_name}", "priority": "low"}
            ),
            201,
        )
        await eventually(lambda: _items_at(client, f"{base}/messages"), what="the welcome message")

        first = await client.delete(f"/api/v1/customers/{customer_id}")
        again = await client.delete(f"/api/v1/customers/{customer_id}")

        assert (first.status_code, again.status_code) == (204, 204)
        [erased] = await events.wait_for(customer_id, "customer.erased.v1")
        assert erased["data"]["customer_id"] == customer_id
        await asyncio.sleep(1)
        assert len(await events.of(customer_id, "customer.erased.v1")) == 1
        details = await client.get(f"/api/v1/customers/{customer_id}")
        assert details.status_code == 404
        listed = await _json(await client.get("/api/v1/customers", params={"q": last_name}))
        assert listed["items"] == []
        timeline = await client.get(f"/api/v1/customers/{customer_id}/timeline")
        assert timeline.status_code == 404
        audit = await _json(await client.get("/api/v1/audit", params={"customer_id": customer_id}))
        assert last_name not in json.dumps(audit)
        assert [e["action"] for e in audit["items"]] == [
            "customer.erase",
            "customer.erase",
            "ticket.open",
            "customer.create",
        ]
        assert ledger_before and ledger_before[0]["amount"] == "9.99"

        # billing drops the person from its ledger but keeps the amounts.
        async def billing_forgot() -> bool:
            return not await _items_at(client, f"{base}/transactions")

        await eventually(billing_forgot, what="billing to erase the customer")
        assert await _billing_revenue(system) == revenue_before

        # tickets deletes what it held of the customer: tickets and messages answer empty.
        async def tickets_forgot() -> bool:
            return not await _items_at(client, f"{base}/tickets") and not await _items_at(
                client, f"{base}/messages"
            )

        await eventually(tickets_forgot, what="tickets to erase the customer")

        # activity deletes the devices and forgets the device limit.
        async def activity_forgot() -> bool:
            devices = await _json(await client.get(f"{base}/devices"))
            return devices["items"] == [] and devices["max_devices"] is None

        await eventually(activity_forgot, what="activity to erase the customer")


async def test_timeline_merges_the_services_newest_first(system: System) -> None:
    async with system.client() as client:
        customer_id = await _add_customer(client, f"Time{uuid.uuid4().hex[:6]}")
        await _active(client, customer_id)
        await eventually(
            lambda: _items_at(client, f"/api/v1/customers/{customer_id}/messages"),
            what="the welcome message",
        )
        await _json(
            await client.post(f"/api/v1/customers/{customer_id}/profiles", json={"name": "Later"}),
            201,
        )

        body = await _json(await client.get(f"/api/v1/customers/{customer_id}/timeline"))

        kinds = [item["kind"] for item in body["items"]]
        assert kinds[0] == "profile.created" and kinds[-1] == "customer.created"
        times = [datetime.fromisoformat(item["at"]) for item in body["items"]]
        assert times == sorted(times, reverse=True)
        assert body["unavailable"] == []
        services = {item["service"] for item in body["items"]}
        assert {"customers", "tickets", "billing"} <= services, body
