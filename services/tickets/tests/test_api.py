"""The internal HTTP API as the gateway calls it: writes with Idempotency-Key, problems naming
the field, the lists' query parameters, the timeline and the figures."""

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx

from services.contracts.apps import MessageReadV1, TicketRepliedV1
from services.runtime.db import Database
from services.tickets import conversations, service

CUSTOMER = "c0ffee00-0000-4000-8000-000000000001"
OTHER = "c0ffee00-0000-4000-8000-000000000002"
BASE = f"/customers/{CUSTOMER}"


async def open_ticket(api: httpx.AsyncClient, customer_id: str = CUSTOMER, **fields: Any) -> Any:
    body = {"subject": "No sound", "opened_by": "alice", **fields}
    response = await api.post(f"/customers/{customer_id}/tickets", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_opening_a_ticket_with_an_idempotency_key_happens_once(
    api: httpx.AsyncClient,
) -> None:
    body = {"subject": "No sound", "opened_by": "alice", "priority": "high"}
    headers = {"Idempotency-Key": "open-1"}

    first = await api.post(f"{BASE}/tickets", json=body, headers=headers)
    again = await api.post(f"{BASE}/tickets", json=body, headers=headers)
    other = await api.post(f"{BASE}/tickets", json={**body, "subject": "Other"}, headers=headers)

    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    listed = (await api.get(f"{BASE}/tickets")).json()
    assert [t["id"] for t in listed["items"]] == [first.json()["id"]]


async def test_a_bad_body_is_a_problem_naming_the_field(api: httpx.AsyncClient) -> None:
    response = await api.post(
        f"{BASE}/tickets", json={"subject": "", "opened_by": "alice", "priority": "asap"}
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"subject", "priority"}


async def test_patch_changes_the_ticket_and_refuses_a_forbidden_transition(
    api: httpx.AsyncClient,
) -> None:
    ticket = await open_ticket(api)
    url = f"{BASE}/tickets/{ticket['id']}"

    closed = await api.patch(url, json={"status": "closed", "assignee": "bob"})
    refused = await api.patch(url, json={"status": "resolved"})
    unknown = await api.patch(f"{BASE}/tickets/nope", json={"status": "open"})

    assert closed.status_code == 200
    assert (closed.json()["status"], closed.json()["assignee"]) == ("closed", "bob")
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["field"] == "status"
    assert unknown.status_code == 404


async def test_ticket_messages_and_the_conversation(api: httpx.AsyncClient) -> None:
    ticket = await open_ticket(api)
    url = f"{BASE}/tickets/{ticket['id']}"

    note = await api.post(f"{url}/messages", json={"body": "VIP", "internal": True, "author": "al"})
    answer = await api.post(f"{url}/messages", json={"body": "Try again", "author": "al"})
    details = (await api.get(url)).json()
    messages = (await api.get(f"{BASE}/messages")).json()

    assert note.status_code == answer.status_code == 201
    assert [(m["body"], m["internal"]) for m in details["messages"]] == [
        ("VIP", True),
        ("Try again", False),
    ]
    assert details["first_response_at"] is not None
    # Only the reply went to the customer.
    assert [(m["title"], m["ticket_id"]) for m in messages["items"]] == [
        ("Re: No sound", ticket["id"])
    ]


async def test_the_list_of_all_tickets_takes_its_filters(api: httpx.AsyncClient) -> None:
    mine = await open_ticket(api, assignee="alice", priority="urgent")
    await open_ticket(api, customer_id=OTHER)
    await api.patch(f"{BASE}/tickets/{mine['id']}", json={"status": "pending"})

    async def ids(**params: Any) -> list[str]:
        response = await api.get("/tickets", params=params)
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    assert len(await ids()) == 2
    assert await ids(status=["pending", "resolved"]) == [mine["id"]]
    assert await ids(assignee="alice", priority="urgent") == [mine["id"]]
    assert await ids(customer_id=CUSTOMER) == [mine["id"]]
    assert len(await ids(unassigned="true")) == 1
    page = (await api.get("/tickets", params={"limit": 1})).json()
    assert page["items"][0]["id"] == mine["id"] and page["next_cursor"]
    rest = (await api.get("/tickets", params={"limit": 1, "cursor": page["next_cursor"]})).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    bad = await api.get("/tickets", params={"status": "done"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status.0"


async def test_an_operator_message_and_its_idempotent_retry(api: httpx.AsyncClient) -> None:
    body = {"title": "Hello", "body": "New channels!", "device_id": "tv-1", "sent_by": "al"}
    first = await api.post(f"{BASE}/messages", json=body, headers={"Idempotency-Key": "m-1"})
    again = await api.post(f"{BASE}/messages", json=body, headers={"Idempotency-Key": "m-1"})

    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    listed = (await api.get(f"{BASE}/messages")).json()["items"]
    assert [(m["device_id"], m["status"], m["sent_by"]) for m in listed] == [("tv-1", "sent", "al")]


async def test_the_timeline_is_newest_first(api: httpx.AsyncClient, db: Database) -> None:
    ticket = await open_ticket(api, subject="Remote broken")
    url = f"{BASE}/tickets/{ticket['id']}"
    await api.post(f"{url}/messages", json={"body": "Sending a new one", "author": "al"})
    async with db.transaction() as session:
        await conversations.customer_replied(
            session,
            TicketRepliedV1(
                customer_id=CUSTOMER,
                ticket_id=ticket["id"],
                body="Thanks",
                replied_at=datetime.now(UTC),
            ),
        )
    await api.patch(url, json={"status": "resolved"})
    [message] = (await api.get(f"{BASE}/messages")).json()["items"]
    async with db.transaction() as session:
        await service.mark_read(
            session,
            MessageReadV1(
                customer_id=CUSTOMER, message_id=message["id"], read_at=datetime.now(UTC)
            ),
        )
    await open_ticket(api, customer_id=OTHER)

    timeline = (await api.get(f"{BASE}/timeline", params={"limit": 200})).json()

    assert [i["kind"] for i in timeline["items"]] == [
        "message.read",
        "ticket.resolved",
        "ticket.replied",
        "ticket.answered",
        "message.sent",
        "ticket.opened",
    ]
    assert {i["service"] for i in timeline["items"]} == {"tickets"}
    assert timeline["items"][-1]["summary"] == "Ticket opened: Remote broken"
    assert timeline["items"][-1]["ref"] == ticket["id"]
    assert timeline["next_cursor"] is None
    at = [datetime.fromisoformat(i["at"]) for i in timeline["items"]]
    assert at == sorted(at, reverse=True)
    limited = (await api.get(f"{BASE}/timeline", params={"limit": 2})).json()
    assert [i["kind"] for i in limited["items"]] == ["message.read", "ticket.resolved"]


async def test_stats_count_tickets_by_status(api: httpx.AsyncClient) -> None:
    for _ in range(2):
        await open_ticket(api)
    pending = await open_ticket(api)
    closed = await open_ticket(api)
    await api.patch(f"{BASE}/tickets/{pending['id']}", json={"status": "pending"})
    await api.patch(f"{BASE}/tickets/{closed['id']}", json={"status": "closed"})

    stats = (await api.get("/stats")).json()

    assert stats == {
        "by_status": {"open": 2, "pending": 1, "resolved": 0, "closed": 1},
        "open_tickets": 3,
    }


async def test_two_racing_requests_with_one_key_open_one_ticket(
    api: httpx.AsyncClient,
) -> None:
    body = {"subject": "Twice", "opened_by": "alice"}
    headers = {"Idempotency-Key": "race-1"}

    answers = await asyncio.gather(
        *(api.post(f"{BASE}/tickets", json=body, headers=headers) for _ in range(4))
    )

    # The first opens it; the others are answered its ticket or told it is in flight (409).
    fresh = [a for a in answers if "Idempotent-Replayed" not in a.headers and a.status_code == 201]
    assert len(fresh) == 1
    assert {a.status_code for a in answers} <= {201, 409}
    assert len({a.json()["id"] for a in answers if a.status_code == 201}) == 1
    listed = (await api.get(f"{BASE}/tickets")).json()["items"]
    assert len(listed) == 1
