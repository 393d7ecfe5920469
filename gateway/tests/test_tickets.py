"""Tickets and messages through the gateway, against the real services: who may do what, the
signed-in operator named to the tickets service, the checks made first, audit, idempotency."""

import json
from collections.abc import Awaitable, Callable

import httpx

from gateway.tests.conftest import Headers
from gateway.tests.seed import sell
from gateway.tests.services import InProcessServices

RoleHeaders = Callable[[str], Awaitable[Headers]]
UNKNOWN_ID = "0b7c9c1e-4e1a-4c53-9d5e-3f1f2f1a6b10"


async def customer(client: httpx.AsyncClient, services: InProcessServices, admin: Headers) -> str:
    created = await sell(client, services, admin)
    customer_id: str = created["id"]
    return customer_id


async def open_ticket(
    client: httpx.AsyncClient, headers: Headers, customer_id: str, **body: object
) -> dict[str, object]:
    response = await client.post(
        f"/api/v1/customers/{customer_id}/tickets",
        json={"subject": "No picture", **body},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    ticket: dict[str, object] = response.json()
    return ticket


async def test_support_opens_a_ticket_signed_with_their_name_and_audited(
    client: httpx.AsyncClient,
    services: InProcessServices,
    operator_with_role: RoleHeaders,
    admin: Headers,
) -> None:
    customer_id = await customer(client, services, admin)
    support = await operator_with_role("support")
    headers = {**support, "Idempotency-Key": "k-1"}
    body = {"subject": "No picture", "priority": "high", "assignee": "admin"}
    api = f"/api/v1/customers/{customer_id}/tickets"

    response = await client.post(api, json=body, headers=headers)
    again = await client.post(api, json=body, headers=headers)

    assert response.status_code == 201, response.text
    ticket = response.json()
    assert (ticket["opened_by"], ticket["assignee"], ticket["status"]) == (
        "support-user",
        "admin",
        "open",
    )
    assert (again.status_code, again.json()["id"]) == (201, ticket["id"])
    assert again.headers["Idempotent-Replayed"] == "true"
    sent = services.calls("tickets", "POST")[0]
    assert json.loads(sent.content)["opened_by"] == "support-user"
    assert sent.headers["Idempotency-Key"] == "k-1"
    audit = (await client.get("/api/v1/audit", headers=admin)).json()["items"]
    items = [e for e in audit if e["action"] == "ticket.open"]
    first = items[-1]
    assert (first["actor"], first["customer_id"], first["status_code"]) == (
        "support-user",
        customer_id,
        201,
    )
    assert first["after"]["id"] == ticket["id"]
    assert items[0]["status_code"] == 201  # the retry, answered again


async def test_a_replayed_write_is_marked_replayed(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    customer_id = await customer(client, services, admin)
    api = f"/api/v1/customers/{customer_id}/messages"
    headers = {**admin, "Idempotency-Key": "k-2"}
    body = {"title": "Maintenance", "body": "Tonight"}

    first = await client.post(api, json=body, headers=headers)
    again = await client.post(api, json=body, headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["sent_by"] == "admin"
    assert again.json()["id"] == first.json()["id"]


async def test_a_viewer_reads_but_does_not_write(
    client: httpx.AsyncClient,
    services: InProcessServices,
    operator_with_role: RoleHeaders,
    admin: Headers,
) -> None:
    customer_id = await customer(client, services, admin)
    ticket = await open_ticket(client, admin, customer_id)
    viewer = await operator_with_role("viewer")
    api = f"/api/v1/customers/{customer_id}"
    posts = len(services.calls("tickets", "POST"))

    listed = await client.get(f"{api}/tickets", headers=viewer)
    opened = await client.post(f"{api}/tickets", json={"subject": "x"}, headers=viewer)
    sent = await client.post(f"{api}/messages", json={"title": "t", "body": "b"}, headers=viewer)

    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()["items"]] == [ticket["id"]]
    assert opened.status_code == sent.status_code == 403
    assert len(services.calls("tickets", "POST")) == posts


async def test_an_unknown_assignee_is_refused_before_the_service_is_asked(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    customer_id = await customer(client, services, admin)

    response = await client.post(
        f"/api/v1/customers/{customer_id}/tickets",
        json={"subject": "x", "assignee": "nobody"},
        headers=admin,
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "assignee"
    assert services.calls("tickets", "POST") == []


async def test_a_ticket_for_an_unknown_customer_is_404(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    response = await client.post(
        f"/api/v1/customers/{UNKNOWN_ID}/tickets", json={"subject": "x"}, headers=admin
    )

    assert response.status_code == 404
    assert services.calls("tickets") == []


async def test_patch_sends_only_what_changes_and_audits_before_and_after(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    customer_id = await customer(client, services, admin)
    ticket = await open_ticket(client, admin, customer_id, assignee="admin")
    api = f"/api/v1/customers/{customer_id}/tickets/{ticket['id']}"

    response = await client.patch(api, json={"status": "resolved", "assignee": None}, headers=admin)

    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["assignee"]) == ("resolved", None)
    (call,) = services.calls("tickets", "PATCH")
    assert json.loads(call.content) == {"status": "resolved", "assignee": None}
    entry = (await client.get("/api/v1/audit", headers=admin)).json()["items"][0]
    assert entry["action"] == "ticket.update"
    assert (entry["before"]["assignee"], entry["after"]["status"]) == ("admin", "resolved")


async def test_a_refused_status_change_passes_on_as_problem_json(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    customer_id = await customer(client, services, admin)
    ticket = await open_ticket(client, admin, customer_id)
    api = f"/api/v1/customers/{customer_id}/tickets/{ticket['id']}"
    closed = await client.patch(api, json={"status": "closed"}, headers=admin)
    assert closed.status_code == 200, closed.text

    response = await client.patch(api, json={"status": "resolved"}, headers=admin)

    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["status"]


async def test_a_reply_and_a_note_carry_the_operator(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    customer_id = await customer(client, services, admin)
    ticket = await open_ticket(client, admin, customer_id)
    api = f"/api/v1/customers/{customer_id}/tickets/{ticket['id']}/messages"

    response = await client.post(api, json={"body": "VIP", "internal": True}, headers=admin)

    assert response.status_code == 201, response.text
    assert (response.json()["internal"], response.json()["author"]) == (True, "admin")
    call = services.calls("tickets", "POST")[-1]
    assert json.loads(call.content) == {"body": "VIP", "internal": True, "author": "admin"}
    audit = (await client.get("/api/v1/audit", headers=admin)).json()["items"][0]
    assert audit["action"] == "ticket.note"


async def test_the_list_of_all_tickets_passes_its_filters_on(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    customer_id = await customer(client, services, admin)
    other = await customer(client, services, admin)
    urgent = await open_ticket(client, admin, customer_id, priority="urgent", assignee="admin")
    await open_ticket(client, admin, customer_id, priority="normal")
    await open_ticket(client, admin, other, priority="urgent", assignee="admin")

    response = await client.get(
        "/api/v1/tickets",
        params=[
            ("status", "open"),
            ("status", "pending"),
            ("priority", "urgent"),
            ("assignee", "admin"),
            ("customer_id", customer_id),
            ("sort", "updated_at"),
            ("limit", "10"),
        ],
        headers=admin,
    )

    assert response.status_code == 200, response.text
    assert [t["id"] for t in response.json()["items"]] == [urgent["id"]]
    assert response.json()["next_cursor"] is None
    bad = await client.get("/api/v1/tickets", params={"status": "done"}, headers=admin)
    assert bad.status_code == 422


async def test_the_message_history_and_an_unavailable_tickets_service(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    customer_id = await customer(client, services, admin)
    sent = await client.post(
        f"/api/v1/customers/{customer_id}/messages",
        json={"title": "Maintenance", "body": "Tonight"},
        headers=admin,
    )
    assert sent.status_code == 201, sent.text

    listed = await client.get(f"/api/v1/customers/{customer_id}/messages", headers=admin)
    services.down("tickets")
    response = await client.get("/api/v1/tickets", headers=admin)

    assert listed.status_code == 200
    titles = [m["title"] for m in listed.json()["items"]]
    assert "Maintenance" in titles and len(titles) == 2  # and the welcome message
    assert response.status_code == 503
    assert response.json()["service"] == "tickets"
