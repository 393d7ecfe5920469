"""Customers end to end (real Kafka, the real processes, through the gateway): editing info and
the webshop, the account (disable/enable, login, password reset, last login), the list's
filters, search, sort, pages and CSV export, and the status following real billing (its actions
and its expiry scheduler)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.contracts.apps import DeviceConnectedV1
from services.contracts.envelope import CloudEvent, EventData
from services.runtime.paging import Keyset
from services.runtime.service_auth import ServiceTokenAuth
from tests.system.conftest import ADMIN_USERNAME, System, eventually


class Bus:
    """Publishes events as their owners would and reads what the customers service emits."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.producer = AIOKafkaProducer(bootstrap_servers=system.kafka)
        self.consumer = AIOKafkaConsumer(
            system.topic("customers.events"),
            bootstrap_servers=system.kafka,
            auto_offset_reset="earliest",
            group_id=None,
        )
        self.seen: list[dict[str, Any]] = []

    async def publish(self, topic: str, data: EventData, customer_id: str, source: str) -> None:
        envelope = CloudEvent.wrap(data, source=source, subject=customer_id)
        await self.producer.send_and_wait(
            self.system.topic(topic),
            envelope.model_dump_json().encode(),
            key=customer_id.encode(),
        )

    async def emitted(self, customer_id: str, kind: str, count: int = 1) -> list[dict[str, Any]]:
        async def find() -> list[dict[str, Any]] | None:
            batches = await self.consumer.getmany(timeout_ms=200)
            for records in batches.values():
                self.seen += [json.loads(r.value or b"{}") for r in records]
            found = [e for e in self.seen if e["subject"] == customer_id and e["type"] == kind]
            return found if len(found) >= count else None

        return await eventually(find, what=f"{count} {kind} of {customer_id}")


@pytest.fixture
async def bus(system: System) -> AsyncIterator[Bus]:
    bus = Bus(system)
    await bus.producer.start()
    await bus.consumer.start()
    try:
        yield bus
    finally:
        await bus.producer.stop()
        await bus.consumer.stop()


async def add_customer(
    client: httpx.AsyncClient, first: str, last: str, login: str | None = None
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/customers",
        json={
            "webshop_id": "shop-eu",
            "product_id": "basic",
            "plan_id": "basic-1m",
            "info": {"first_name": first, "last_name": last, "email": f"{last}@example.com"},
            "credentials": {"login": login, "password": "secret-pw-1"} if login else None,
        },
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def status_of(client: httpx.AsyncClient, customer_id: str) -> str:
    response = await client.get(f"/api/v1/customers/{customer_id}")
    response.raise_for_status()
    status: str = response.json()["status"]
    return status


async def until_status(client: httpx.AsyncClient, customer_id: str, status: str) -> None:
    async def reached() -> bool:
        return await status_of(client, customer_id) == status

    await eventually(reached, what=f"status {status}")


def uid() -> str:
    return uuid.uuid4().hex[:8]


async def test_edit_info_and_change_webshop(system: System, bus: Bus) -> None:
    async with system.client() as client:
        customer_id = (await add_customer(client, "Edit", f"Me{uid()}"))["id"]
        url = f"/api/v1/customers/{customer_id}"

        edited = await client.patch(
            url,
            json={
                "info": {
                    "title": "Ms",
                    "mobile": "+420 777 000 111",
                    "street": "Main 1",
                    "zip": "60200",
                    "city": "Brno",
                    "country": "cz",
                    "mapping_id": "crm-1",
                },
                "webshop_id": "shop-us",
            },
        )
        bad_phone = await client.patch(url, json={"info": {"phone": "12-34"}})
        bad_shop = await client.patch(url, json={"webshop_id": "no-such-shop"})
        audit = await client.get("/api/v1/audit", params={"customer_id": customer_id})

    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert body["webshop_id"] == "shop-us"
    assert (body["info"]["mobile"], body["info"]["country"]) == ("+420777000111", "CZ")
    assert bad_phone.status_code == 422
    assert [e["field"] for e in bad_phone.json()["errors"]] == ["info.phone"]
    assert bad_shop.status_code == 422
    assert [e["field"] for e in bad_shop.json()["errors"]] == ["webshop_id"]
    [updated] = await bus.emitted(customer_id, "customer.updated.v1")
    assert updated["data"]["webshop_id"] == "shop-us"
    assert "info.mobile" in updated["data"]["changed_fields"]
    entries = [e for e in audit.json()["items"] if e["action"] == "customer.update"]
    assert sorted(e["status_code"] for e in entries) == [200, 422]  # the refusal is audited too
    [entry] = [e for e in entries if e["status_code"] == 200]
    assert entry["before"]["webshop_id"] == "shop-eu"
    assert entry["after"]["info"]["city"] == "Brno"


async def test_disable_enable_follow_the_status_and_are_emitted(system: System, bus: Bus) -> None:
    async with system.client() as client:
        customer_id = (await add_customer(client, "Dis", f"Abled{uid()}"))["id"]
        await until_status(client, customer_id, "active")
        account_url = f"/api/v1/customers/{customer_id}/account"

        disabled = await client.patch(
            account_url, json={"disabled": True}, headers={"Idempotency-Key": f"d-{customer_id}"}
        )
        assert disabled.status_code == 200, disabled.text
        assert await status_of(client, customer_id) == "disabled"
        inactive = await client.get(
            "/api/v1/customers", params={"status_group": "inactive", "status": "disabled"}
        )
        assert customer_id in [c["id"] for c in inactive.json()["items"]]

        enabled = await client.patch(account_url, json={"disabled": False})
        # The retried disable must not undo the enable that came after it: it gets the first
        # answer again, and nothing changes.
        retried = await client.patch(
            account_url, json={"disabled": True}, headers={"Idempotency-Key": f"d-{customer_id}"}
        )
        assert enabled.json()["disabled"] is False
        assert retried.json() == disabled.json()
        assert retried.headers["Idempotent-Replayed"] == "true"
        assert await status_of(client, customer_id) == "active"

    sent = await bus.emitted(customer_id, "account.updated.v1", count=2)
    assert [e["data"]["disabled"] for e in sent] == [True, False]


async def test_login_change_password_reset_and_last_login(system: System, bus: Bus) -> None:
    tag = uid()
    async with system.client() as client:
        await add_customer(client, "Taken", f"Login{tag}", login=f"taken.{tag}")
        customer_id = (await add_customer(client, "Log", f"In{tag}"))["id"]
        account_url = f"/api/v1/customers/{customer_id}/account"

        taken = await client.patch(account_url, json={"login": f"TAKEN.{tag}"})
        spaced = await client.patch(account_url, json={"login": "has space"})
        changed = await client.patch(account_url, json={"login": f"Mine.{tag}"})
        found = await client.get("/api/v1/customers", params={"q": f"mine.{tag}"})

        reset = await client.post(
            f"{account_url}/password", headers={"Idempotency-Key": f"p-{tag}"}
        )
        repeated = await client.post(
            f"{account_url}/password", headers={"Idempotency-Key": f"p-{tag}"}
        )

        connected_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        await bus.publish(
            "apps.events",
            DeviceConnectedV1(
                customer_id=customer_id,
                device_id=f"stb-{tag}",
                kind="stb",
                connected_at=connected_at,
            ),
            customer_id,
            source="/apps/stb",
        )

        async def last_login() -> str | None:
            account = (await client.get(account_url)).json()
            value: str | None = account["last_login_at"]
            return value

        seen = await eventually(last_login, what="last_login_at")

    assert taken.status_code == 409 and taken.json()["errors"][0]["field"] == "login"
    assert spaced.status_code == 422
    assert changed.status_code == 200 and changed.json()["login"] == f"Mine.{tag}"
    assert [c["id"] for c in found.json()["items"]] == [customer_id]
    assert reset.status_code == 200 and reset.json()["password"].isdigit()
    assert repeated.status_code == 200 and repeated.json()["password"] is None
    assert datetime.fromisoformat(seen) == connected_at
    [event] = await bus.emitted(customer_id, "account.updated.v1")
    assert event["data"]["login"] == f"Mine.{tag}"
    assert "password" not in json.dumps(event)


async def test_services_answer_the_gateway_only_and_log_its_operator(system: System) -> None:
    """The reset works through the gateway, whose token names the operator in the customers
    service's log; straight to the service it is refused without a token or with a forged one."""
    tag = uid()
    async with system.client() as client:
        customer_id = (await add_customer(client, "Token", f"Check{tag}"))["id"]
        through_gateway = await client.post(f"/api/v1/customers/{customer_id}/account/password")
    reset_path = f"/customers/{customer_id}/account/password"
    forged = ServiceTokenAuth("a-key-the-gateway-does-not-have-0123456789", actor="admin")
    async with httpx.AsyncClient(base_url=system.processes["customers"].url) as direct:
        without_token = await direct.post(reset_path)
        with_forged = await direct.post(reset_path, auth=forged)
        export = await direct.get("/customers/export.csv")
        erase = await direct.delete(f"/customers/{customer_id}")
    async with httpx.AsyncClient(base_url=system.processes["billing"].url) as direct:
        webshop = await direct.post("/webshops", json={"id": f"w{tag}", "name": "Rogue"})
        tick = await direct.post("/scheduler/tick")

    assert through_gateway.status_code == 200, through_gateway.text
    assert through_gateway.json()["password"].isdigit()
    for refused in (without_token, with_forged, export, erase, webshop, tick):
        assert refused.status_code == 401, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    async with system.client() as client:
        still_there = await client.get(f"/api/v1/customers/{customer_id}")
    assert still_there.status_code == 200
    log_lines = system.processes["customers"].log_file.read_text().splitlines()
    entries = [json.loads(line) for line in log_lines if line.startswith("{")]
    assert any(
        entry.get("actor") == ADMIN_USERNAME and reset_path in entry["message"] for entry in entries
    )


async def test_list_filters_search_sort_pages_and_csv(system: System) -> None:
    tag = f"zq{uid()}"
    names = ["Anna", "Bert", "Cleo", "Dora", "Emil"]
    async with system.client() as client:
        ids = {
            first: (await add_customer(client, first, f"{tag}{first.lower()}"))["id"]
            for first in names
        }
        for customer_id in ids.values():
            await until_status(client, customer_id, "active")
        await client.patch(f"/api/v1/customers/{ids['Cleo']}/account", json={"disabled": True})

        pages: list[str] = []
        cursor: str | None = None
        for _ in range(5):
            params: dict[str, Any] = {"q": tag.upper(), "sort": "-name", "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/api/v1/customers", params=params)).json()
            assert page["total"] == 5 and page["total_exact"]
            pages += [c["info"]["first_name"] for c in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        active = await client.get(
            "/api/v1/customers", params={"q": tag, "status_group": "active", "sort": "status"}
        )
        by_status = await client.get("/api/v1/customers", params={"q": tag, "sort": "-status"})
        full_name = await client.get("/api/v1/customers", params={"q": f"dora {tag}"})
        bad_cursor = await client.get("/api/v1/customers", params={"cursor": "nope"})
        export = await client.get("/api/v1/customers/export.csv", params={"q": tag, "sort": "name"})

    assert pages == ["Emil", "Dora", "Cleo", "Bert", "Anna"]
    assert {c["id"] for c in active.json()["items"]} == {ids[n] for n in names if n != "Cleo"}
    assert by_status.json()["items"][0]["id"] == ids["Cleo"]  # disabled ranks last ascending
    assert [c["id"] for c in full_name.json()["items"]] == [ids["Dora"]]
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["errors"][0]["field"] == "cursor"
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    header, *rows = list(csv.reader(io.StringIO(export.text)))
    assert header[:4] == ["id", "status", "source", "login"]
    assert [row[0] for row in rows] == [ids[n] for n in names]
    assert rows[2][1] == "disabled"


async def test_the_scheduler_expires_a_subscription_and_the_list_shows_it_inactive(
    system: System,
) -> None:
    """Billing's own scheduler (ticking every second here) ends a subscription whose expiry an
    operator moved a few seconds ahead; the customer turns expired and Inactive in the list."""
    async with system.client() as client:
        last_name = f"Us{uid()}"
        customer_id = (await add_customer(client, "Stat", last_name))["id"]
        await until_status(client, customer_id, "active")
        expires_at = datetime.now(UTC) + timedelta(seconds=3)
        moved = await client.put(
            f"/api/v1/customers/{customer_id}/subscription/expiry",
            json={"expires_at": expires_at.isoformat(), "reason": "system test"},
        )
        assert moved.status_code == 200, moved.text

        await until_status(client, customer_id, "expired")
        expired_list = await client.get(
            "/api/v1/customers",
            params={
                "status": "expired",
                "expires_before": (expires_at + timedelta(seconds=1)).isoformat(),
            },
        )
        inactive = await client.get(
            "/api/v1/customers", params={"status_group": "inactive", "q": last_name}
        )
        active = await client.get(
            "/api/v1/customers", params={"status_group": "active", "q": last_name}
        )
        details = (await client.get(f"/api/v1/customers/{customer_id}")).json()

    assert customer_id in [c["id"] for c in expired_list.json()["items"]]
    assert [c["id"] for c in inactive.json()["items"]] == [customer_id]
    assert active.json()["items"] == []
    assert details["sections"]["subscription"]["data"]["status"] == "expired"


async def test_status_follows_real_billing_through_cancel_and_renewal(system: System) -> None:
    async with system.client() as client:
        customer_id = (await add_customer(client, "Real", f"Billing{uid()}"))["id"]
        await until_status(client, customer_id, "active")
        base = f"/api/v1/customers/{customer_id}/subscription"

        scheduled = await client.post(f"{base}/cancel", json={"when": "at_period_end"})
        assert scheduled.status_code == 200, scheduled.text
        # cancel_scheduled keeps the subscription usable until its expiry.
        assert await status_of(client, customer_id) == "active"

        cancelled = await client.post(f"{base}/cancel", json={"when": "now"})
        assert cancelled.status_code == 200, cancelled.text
        await until_status(client, customer_id, "expired")

        renewed = await client.post(
            f"{base}/renew",
            json={"product_id": "basic", "plan_id": "basic-1m", "extra_product_ids": []},
        )
        assert renewed.status_code in (200, 201), renewed.text
        await until_status(client, customer_id, "active")


async def test_names_are_searched_and_sorted_ignoring_accents(system: System) -> None:
    tag = f"zf{uid()}"
    async with system.client() as client:
        ids = {
            first: (await add_customer(client, first, tag))["id"]
            for first in ["Zoë", "Łukasz", "Émile", "emil"]
        }
        emi = await client.get("/api/v1/customers", params={"q": f"{tag} EMI"})
        emile = await client.get("/api/v1/customers", params={"q": f"émile {tag}"})
        lukasz = await client.get("/api/v1/customers", params={"q": f"{tag} lukasz"})
        by_name = await client.get("/api/v1/customers", params={"q": tag, "sort": "name"})
        # An edit writes the folded keys too.
        edited = await client.patch(
            f"/api/v1/customers/{ids['emil']}", json={"info": {"first_name": "Ørjan"}}
        )
        orjan = await client.get("/api/v1/customers", params={"q": f"{tag} orj"})

    assert {c["id"] for c in emi.json()["items"]} == {ids["Émile"], ids["emil"]}
    assert [c["id"] for c in emile.json()["items"]] == [ids["Émile"]]
    assert [c["id"] for c in lukasz.json()["items"]] == [ids["Łukasz"]]
    # "<tag> emil" < "<tag> emile" < "<tag> lukasz" < "<tag> zoe": no accented name after z
    assert [c["info"]["first_name"] for c in by_name.json()["items"]] == [
        "emil",
        "Émile",
        "Łukasz",
        "Zoë",
    ]
    assert edited.status_code == 200, edited.text
    assert [c["id"] for c in orjan.json()["items"]] == [ids["emil"]]


async def test_hostile_list_input_is_a_4xx_not_a_5xx(system: System) -> None:
    """A NUL in the search (it was a 502, and the CSV export of it a cut 200) and a hand-made
    cursor past the status rank's range (an integer overflow in SQL) are refused by name."""
    huge = Keyset("customers.customers.status", tuple[int, str]).encode((10**30, "x"))
    async with system.client() as client:
        nul = await client.get("/api/v1/customers", params={"q": "ada\x00"})
        export = await client.get("/api/v1/customers/export.csv", params={"q": "ada\x00"})
        overflow = await client.get("/api/v1/customers", params={"sort": "status", "cursor": huge})
        created = await client.post(
            "/api/v1/customers",
            json={
                "webshop_id": "shop-eu",
                "product_id": "basic",
                "plan_id": "basic-1m",
                "info": {"first_name": "Nul\x00", "last_name": "Byte"},
                "credentials": None,
            },
        )
    for answer, field in ((nul, "q"), (export, "q"), (overflow, "cursor"), (created, None)):
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        if field:
            assert [e["field"] for e in answer.json()["errors"]] == [field]
    assert created.json()["errors"][0]["field"] == "info.first_name"
