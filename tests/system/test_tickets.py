"""Tickets and messages end to end: the gateway in, the TV apps on apps.events/apps.commands,
billing's real expiry scheduler, the tickets service following (real Kafka; SQLite and
PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.system.conftest import System, eventually


def cloud_event(event_type: str, data: dict[str, Any], *, source: str = "/apps/tv") -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": source,
            "type": event_type,
            "time": datetime.now(UTC).isoformat(),
            "subject": data.get("customer_id"),
            "data": data,
        }
    ).encode()


class Apps:
    """The TV apps as seen from Kafka: they report on apps.events and read apps.commands; the
    dead letters of apps.events are read too."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.producer = AIOKafkaProducer(bootstrap_servers=system.kafka)
        self.reader = AIOKafkaConsumer(
            system.topic("apps.commands"),
            system.topic("apps.events.dlq"),
            bootstrap_servers=system.kafka,
            auto_offset_reset="earliest",
            group_id=None,
        )
        self.seen: list[tuple[str, bytes | None, dict[str, bytes]]] = []

    async def start(self) -> None:
        await self.producer.start()
        await self.reader.start()

    async def stop(self) -> None:
        await self.producer.stop()
        await self.reader.stop()

    async def send(self, topic: str, value: bytes, key: str) -> None:
        await self.producer.send_and_wait(self.system.topic(topic), value, key=key.encode())

    async def _drain(self) -> None:
        batches = await self.reader.getmany(timeout_ms=200)
        for records in batches.values():
            for record in records:
                topic = record.topic.removeprefix(self.system.prefix)
                self.seen.append((topic, record.value, dict(record.headers or ())))

    async def commands(self) -> list[dict[str, Any]]:
        """The data of every command seen on apps.commands so far."""
        await self._drain()
        return [json.loads(v or b"")["data"] for t, v, _ in self.seen if t == "apps.commands"]

    async def command(self, event_type: str, **match: Any) -> dict[str, Any]:
        """The first command of `event_type` on apps.commands whose data has `match`."""

        async def find() -> dict[str, Any] | None:
            await self._drain()
            for topic, value, _headers in self.seen:
                if topic != "apps.commands":
                    continue
                body = json.loads(value or b"")
                data = body["data"]
                if body["type"] == event_type and all(data.get(k) == v for k, v in match.items()):
                    return dict(data)
            return None

        return await eventually(find, what=f"{event_type} with {match}")

    async def dead_letter(self, raw: bytes) -> dict[str, bytes]:
        """The headers of the tickets service's dead letter of `raw` (activity reads
        apps.events too and dead-letters what it cannot parse under its own name)."""

        async def find() -> dict[str, bytes] | None:
            await self._drain()
            for topic, value, headers in self.seen:
                if (
                    topic == "apps.events.dlq"
                    and value == raw
                    and headers.get("x-dlq-consumer") == b"tickets"
                ):
                    return headers
            return None

        return await eventually(find, what="the dead letter")


@pytest.fixture
async def apps(system: System) -> AsyncIterator[Apps]:
    tv = Apps(system)
    await tv.start()
    try:
        yield tv
    finally:
        await tv.stop()


async def new_customer(client: httpx.AsyncClient, first_name: str = "Ada") -> str:
    response = await client.post(
        "/api/v1/customers",
        json={
            "webshop_id": "shop-eu",
            "product_id": "basic",
            "plan_id": "basic-1m",
            "extra_product_ids": [],
            "info": {"first_name": first_name, "last_name": "Tester", "email": "t@example.com"},
            "credentials": None,
        },
    )
    assert response.status_code == 201, response.text
    customer_id: str = response.json()["id"]
    return customer_id


async def get_ticket(client: httpx.AsyncClient, customer_id: str, ticket_id: str) -> Any:
    response = await client.get(f"/api/v1/customers/{customer_id}/tickets/{ticket_id}")
    response.raise_for_status()
    return response.json()


async def messages(client: httpx.AsyncClient, customer_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/customers/{customer_id}/messages")
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_ticket_opened_through_the_gateway_is_answered_and_reopened_by_the_customer(
    system: System, apps: Apps
) -> None:
    async with system.client() as client:
        customer_id = await new_customer(client)
        base = f"/api/v1/customers/{customer_id}/tickets"
        opened = await client.post(
            base,
            json={"subject": "No picture", "description": "Black screen", "priority": "high"},
            headers={"Idempotency-Key": f"open-{customer_id}"},
        )
        assert opened.status_code == 201, opened.text
        ticket = opened.json()
        assert (ticket["status"], ticket["opened_by"], ticket["priority"]) == (
            "open",
            "admin",
            "high",
        )
        again = await client.post(
            base,
            json={"subject": "No picture", "description": "Black screen", "priority": "high"},
            headers={"Idempotency-Key": f"open-{customer_id}"},
        )
        assert (again.status_code, again.json()["id"]) == (201, ticket["id"])
        assert again.headers["Idempotent-Replayed"] == "true"
        url = f"{base}/{ticket['id']}"

        answered = await client.post(f"{url}/messages", json={"body": "Restart the box, please"})
        assert answered.status_code == 201, answered.text
        note = await client.post(f"{url}/messages", json={"body": "VIP", "internal": True})
        assert note.status_code == 201
        shown = await apps.command("message.show.v1", ticket_id=ticket["id"])
        assert (shown["customer_id"], shown["body"]) == (customer_id, "Restart the box, please")
        resolved = await client.patch(url, json={"status": "resolved"})
        assert resolved.json()["status"] == "resolved"
        assert resolved.json()["first_response_at"] is not None

        # The customer answers from the TV app: the ticket opens again.
        await apps.send(
            "apps.events",
            cloud_event(
                "ticket.replied.v1",
                {
                    "customer_id": customer_id,
                    "ticket_id": ticket["id"],
                    "body": "Still black",
                    "replied_at": datetime.now(UTC).isoformat(),
                },
            ),
            key=customer_id,
        )

        async def reopened() -> Any:
            details = await get_ticket(client, customer_id, ticket["id"])
            return details if details["status"] == "open" else None

        details = await eventually(reopened, what="the customer's reply to reopen the ticket")
        assert [(m["author_kind"], m["internal"], m["body"]) for m in details["messages"]] == [
            ("operator", True, "Black screen"),
            ("operator", False, "Restart the box, please"),
            ("operator", True, "VIP"),
            ("customer", False, "Still black"),
        ]
        # The internal note never went to the apps.
        await apps._drain()
        bodies = [
            json.loads(v or b"")["data"].get("body")
            for t, v, _ in apps.seen
            if t == "apps.commands"
        ]
        assert "VIP" not in bodies and "Black screen" not in bodies

        listed = await client.get(
            "/api/v1/tickets", params={"customer_id": customer_id, "status": "open"}
        )
        assert [t["id"] for t in listed.json()["items"]] == [ticket["id"]]
        assert listed.json()["items"][0]["customer_name"] == "Ada Tester"


async def test_an_operator_message_reaches_the_apps_and_turns_read(
    system: System, apps: Apps
) -> None:
    async with system.client() as client:
        customer_id = await new_customer(client, first_name="Grace")
        sent = await client.post(
            f"/api/v1/customers/{customer_id}/messages",
            json={"title": "Maintenance", "body": "Tonight 2-4 am", "device_id": "tv-1"},
        )
        assert sent.status_code == 201, sent.text
        message = sent.json()
        assert (message["status"], message["sent_by"]) == ("sent", "admin")

        shown = await apps.command("message.show.v1", message_id=message["id"])
        assert (shown["customer_id"], shown["device_id"], shown["title"]) == (
            customer_id,
            "tv-1",
            "Maintenance",
        )
        read_at = datetime.now(UTC).replace(microsecond=0)
        report = cloud_event(
            "message.read.v1",
            {
                "customer_id": customer_id,
                "message_id": message["id"],
                "device_id": "tv-1",
                "read_at": read_at.isoformat(),
            },
        )
        await apps.send("apps.events", report, key=customer_id)
        await apps.send("apps.events", report, key=customer_id)  # delivered twice

        async def read() -> dict[str, Any] | None:
            for item in await messages(client, customer_id):
                if item["id"] == message["id"] and item["status"] == "read":
                    return item
            return None

        item = await eventually(read, what="the message to turn read")
        assert datetime.fromisoformat(item["read_at"]) == read_at


async def test_expiring_and_expired_subscriptions_send_one_message_each(
    system: System, apps: Apps
) -> None:
    """Billing's real scheduler (ticking every second here) sends the expiring notice and then
    the expiry of a subscription an operator ends a few seconds ahead; the customer's app is
    shown one message for each, however many ticks pass."""
    async with system.client() as client:
        customer_id = await new_customer(client, first_name="Linus")

        async def welcomed() -> list[dict[str, Any]] | None:
            items = await messages(client, customer_id)
            return items if any(m["template"] == "welcome" for m in items) else None

        await eventually(welcomed, what="the welcome message")
        moved = await client.put(
            f"/api/v1/customers/{customer_id}/subscription/expiry",
            json={
                "expires_at": (datetime.now(UTC) + timedelta(seconds=3)).isoformat(),
                "reason": "system test",
            },
        )
        assert moved.status_code == 200, moved.text

        async def expired() -> list[dict[str, Any]] | None:
            items = await messages(client, customer_id)
            return items if any(m["template"] == "expired" for m in items) else None

        await eventually(expired, what="the expired message")
        # A few more ticks of the scheduler: nothing more may be sent for this period.
        await asyncio.sleep(3)
        items = await messages(client, customer_id)
        assert sorted(m["template"] for m in items) == ["expired", "expiring", "welcome"]
        expiring_message = next(m for m in items if m["template"] == "expiring")
        assert "Hello Linus" in expiring_message["body"]
        assert "(1 day left)" in expiring_message["body"]
        for template in ("expiring", "expired"):
            shown = next(m for m in items if m["template"] == template)
            await apps.command("message.show.v1", message_id=shown["id"])


async def test_malformed_and_impossible_app_events_are_dead_lettered_with_the_reason(
    system: System, apps: Apps
) -> None:
    async with system.client() as client:
        customer_id = await new_customer(client, first_name="Barbara")
        other_id = await new_customer(client, first_name="Ken")
        opened = await client.post(
            f"/api/v1/customers/{other_id}/tickets", json={"subject": "Billing question"}
        )
        assert opened.status_code == 201
        foreign_ticket = opened.json()["id"]
        now = datetime.now(UTC).isoformat()

        garbage = b"{definitely not json"
        unknown_ticket = cloud_event(
            "ticket.replied.v1",
            {"customer_id": customer_id, "ticket_id": "no-such", "body": "hi", "replied_at": now},
        )
        foreign = cloud_event(
            "ticket.replied.v1",
            {
                "customer_id": customer_id,
                "ticket_id": foreign_ticket,
                "body": "x",
                "replied_at": now,
            },
        )
        unknown_message = cloud_event(
            "message.read.v1",
            {"customer_id": customer_id, "message_id": "no-such", "read_at": now},
        )
        no_body = cloud_event(
            "ticket.replied.v1",
            {"customer_id": customer_id, "ticket_id": foreign_ticket, "replied_at": now},
        )
        for raw in (garbage, unknown_ticket, foreign, unknown_message, no_body):
            await apps.send("apps.events", raw, key=customer_id)

        expected = {
            garbage: b"invalid CloudEvent envelope",
            unknown_ticket: b"unknown ticket id 'no-such'",
            foreign: b"does not belong to customer",
            unknown_message: b"unknown message id 'no-such'",
            no_body: b"ticket.replied.v1 violates its schema: body",
        }
        for raw, reason in expected.items():
            headers = await apps.dead_letter(raw)
            assert reason in headers["x-dlq-reason"], headers["x-dlq-reason"]
            assert headers["x-dlq-source-topic"] == system.topic("apps.events").encode()

        # The foreign ticket is untouched, and the consumer moved on to later events.
        details = await get_ticket(client, other_id, foreign_ticket)
        assert details["messages"] == []
        sent = await client.post(
            f"/api/v1/customers/{customer_id}/messages", json={"title": "t", "body": "b"}
        )
        message_id = sent.json()["id"]
        await apps.send(
            "apps.events",
            cloud_event(
                "message.read.v1",
                {"customer_id": customer_id, "message_id": message_id, "read_at": now},
            ),
            key=customer_id,
        )

        async def read() -> bool:
            return any(
                m["id"] == message_id and m["status"] == "read"
                for m in await messages(client, customer_id)
            )

        await eventually(read, what="a good event after the bad ones")
