"""Tickets and messages through the gateway, with the services faked: who may do what, the
signed-in operator named to the tickets service, the checks made first, audit, idempotency."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from gateway.tests.conftest import Headers
from gateway.tests.fakes import CUSTOMER_ID, FakeServices, customer, json_body, problem

BASE = f"/customers/{CUSTOMER_ID}"
API = f"/api/v1{BASE}"
TICKET_ID = "5d2c6f8e-1b7a-4a38-9c0e-2f6b1d9a7e41"
AT = "2026-11-28T10:00:00Z"

RoleHeaders = Callable[[str], Awaitable[Headers]]


def ticket(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": TICKET_ID,
        "customer_id": CUSTOMER_ID,
        "customer_name": "Jane Doe",
        "subject": "No picture",
        "status": "open",
        "priority": "normal",
        "assignee": None,
        "opened_by": "support-user",
        "created_at": AT,
        "updated_at": AT,
        "first_response_at": None,
        "resolved_at": None,
        "closed_at": None,
        "messages": [],
    }
    record.update(changes)
    return record


def message(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": "msg-1",
        "customer_id": CUSTOMER_ID,
        "channel": "in_app",
        "template": None,
        "ticket_id": None,
        "sent_by": "support-user",
        "title": "Maintenance",
        "body": "Tonight",
        "device_id": None,
        "status": "sent",
        "sent_at": AT,
        "read_at": None,
    }
    record.update(changes)
    return record


@pytest.fixture
def customer_exists(fake: FakeServices) -> None:
    fake.answer("customers", "GET", BASE, 200, customer())


@pytest.mark.usefixtures("customer_exists")
async def test_support_opens_a_ticket_signed_with_their_name_and_audited(
    client: httpx.AsyncClient, fake: FakeServices, operator_with_role: RoleHeaders, admin: Headers
) -> None:
    support = await operator_with_role("support")
    fake.answer("tickets", "POST", f"{BASE}/tickets", 201, ticket(assignee="admin"))

    response = await client.post(
        f"{API}/tickets",
        json={"subject": "No picture", "priority": "high", "assignee": "admin"},
        headers={**support, "Idempotency-Key": "k-1"},
    )

    assert response.status_code == 201, response.text
    assert response.json()["id"] == TICKET_ID
    [sent] = fake.calls("tickets", "POST")
    assert json_body(sent) == {
        "subject": "No picture",
        "description": None,
        "priority": "high",
        "assignee": "admin",
        "opened_by": "support-user",
    }
    assert sent.headers["Idempotency-Key"] == "k-1"
    audit = (await client.get("/api/v1/audit", headers=admin)).json()["items"][0]
    assert (audit["action"], audit["actor"], audit["customer_id"], audit["status_code"]) == (
        "ticket.open",
        "support-user",
        CUSTOMER_ID,
        201,
    )
    assert audit["after"]["id"] == TICKET_ID


@pytest.mark.usefixtures("customer_exists")
async def test_a_replayed_write_is_marked_replayed(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.on(
        "tickets",
        "POST",
        f"{BASE}/messages",
        lambda _: httpx.Response(201, json=message(), headers={"Idempotent-Replayed": "true"}),
    )

    response = await client.post(
        f"{API}/messages",
        json={"title": "Maintenance", "body": "Tonight"},
        headers={**admin, "Idempotency-Key": "k-2"},
    )

    assert response.status_code == 201
    assert response.headers["Idempotent-Replayed"] == "true"
    assert json_body(fake.calls("tickets", "POST")[0])["sent_by"] == "admin"


async def test_a_viewer_reads_but_does_not_write(
    client: httpx.AsyncClient, fake: FakeServices, operator_with_role: RoleHeaders
) -> None:
    viewer = await operator_with_role("viewer")
    fake.answer(
        "tickets", "GET", f"{BASE}/tickets", 200, {"items": [ticket()], "next_cursor": None}
    )

    listed = await client.get(f"{API}/tickets", headers=viewer)
    opened = await client.post(f"{API}/tickets", json={"subject": "x"}, headers=viewer)
    sent = await client.post(f"{API}/messages", json={"title": "t", "body": "b"}, headers=viewer)

    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()["items"]] == [TICKET_ID]
    assert opened.status_code == sent.status_code == 403
    assert fake.calls("tickets", "POST") == []


@pytest.mark.usefixtures("customer_exists")
async def test_an_unknown_assignee_is_refused_before_the_service_is_asked(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    response = await client.post(
        f"{API}/tickets", json={"subject": "x", "assignee": "nobody"}, headers=admin
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "assignee"
    assert fake.calls("tickets") == []


async def test_a_ticket_for_an_unknown_customer_is_404(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.on("customers", "GET", BASE, lambda _: problem(404, "Not Found", "no such customer"))

    response = await client.post(f"{API}/tickets", json={"subject": "x"}, headers=admin)

    assert response.status_code == 404
    assert fake.calls("tickets") == []


async def test_patch_sends_only_what_changes_and_audits_before_and_after(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    path = f"{BASE}/tickets/{TICKET_ID}"
    fake.answer("tickets", "GET", path, 200, ticket(assignee="admin"))
    fake.answer("tickets", "PATCH", path, 200, ticket(status="resolved"))

    response = await client.patch(
        f"/api/v1{path}", json={"status": "resolved", "assignee": None}, headers=admin
    )

    assert response.status_code == 200
    assert json_body(fake.calls("tickets", "PATCH")[0]) == {
        "status": "resolved",
        "assignee": None,
    }
    entry = (await client.get("/api/v1/audit", headers=admin)).json()["items"][0]
    assert entry["action"] == "ticket.update"
    assert (entry["before"]["assignee"], entry["after"]["status"]) == ("admin", "resolved")


async def test_a_refused_status_change_passes_on_as_problem_json(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    path = f"{BASE}/tickets/{TICKET_ID}"
    fake.answer("tickets", "GET", path, 200, ticket(status="closed"))
    fake.on(
        "tickets",
        "PATCH",
        path,
        lambda _: problem(
            409,
            "Status change not allowed",
            "a closed ticket cannot become resolved",
            errors=[{"field": "status", "message": "allowed from closed: open"}],
        ),
    )

    response = await client.patch(f"/api/v1{path}", json={"status": "resolved"}, headers=admin)

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"field": "status", "message": "allowed from closed: open"}
    ]


async def test_a_reply_and_a_note_carry_the_operator(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    path = f"{BASE}/tickets/{TICKET_ID}/messages"
    entry = {
        "id": "tm-1",
        "ticket_id": TICKET_ID,
        "author_kind": "operator",
        "author": "admin",
        "internal": True,
        "body": "VIP",
        "created_at": AT,
    }
    fake.answer("tickets", "POST", path, 201, entry)

    response = await client.post(
        f"/api/v1{path}", json={"body": "VIP", "internal": True}, headers=admin
    )

    assert response.status_code == 201
    assert response.json()["internal"] is True
    assert json_body(fake.calls("tickets", "POST")[0]) == {
        "body": "VIP",
        "internal": True,
        "author": "admin",
    }
    audit = (await client.get("/api/v1/audit", headers=admin)).json()["items"][0]
    assert audit["action"] == "ticket.note"


async def test_the_list_of_all_tickets_passes_its_filters_on(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.answer("tickets", "GET", "/tickets", 200, {"items": [ticket()], "next_cursor": "abc"})

    response = await client.get(
        "/api/v1/tickets",
        params=[
            ("status", "open"),
            ("status", "pending"),
            ("priority", "urgent"),
            ("assignee", "alice"),
            ("customer_id", CUSTOMER_ID),
            ("sort", "updated_at"),
            ("limit", "10"),
            ("cursor", "xyz"),
        ],
        headers=admin,
    )

    assert response.status_code == 200
    assert response.json()["next_cursor"] == "abc"
    [call] = fake.calls("tickets", "GET")
    assert call.url.params.multi_items() == [
        ("status", "open"),
        ("status", "pending"),
        ("priority", "urgent"),
        ("assignee", "alice"),
        ("customer_id", CUSTOMER_ID),
        ("sort", "updated_at"),
        ("limit", "10"),
        ("cursor", "xyz"),
    ]
    bad = await client.get("/api/v1/tickets", params={"status": "done"}, headers=admin)
    assert bad.status_code == 422


async def test_the_message_history_and_an_unavailable_tickets_service(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.answer(
        "tickets",
        "GET",
        f"{BASE}/messages",
        200,
        {"items": [message(status="read", read_at=AT)], "next_cursor": None},
    )
    listed = await client.get(f"{API}/messages", headers=admin)
    assert listed.status_code == 200
    assert [(m["status"], m["read_at"]) for m in listed.json()["items"]] == [("read", AT)]

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    fake.on("tickets", "GET", "/tickets", down)
    response = await client.get("/api/v1/tickets", headers=admin)
    assert response.status_code == 503
    assert response.json()["service"] == "tickets"
