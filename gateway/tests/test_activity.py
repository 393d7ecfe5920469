"""The activity routes: lists passed through with their filters, removals by operators only,
audited, and the activity service's problems passed on."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from gateway.tests.conftest import Headers
from gateway.tests.fakes import CUSTOMER_ID, FakeServices, problem, unreachable
from gateway.tests.test_auth import assert_problem

API = f"/api/v1/customers/{CUSTOMER_ID}"
BASE = f"/customers/{CUSTOMER_ID}"


def device_page() -> dict[str, Any]:
    return {
        "items": [
            {
                "id": "stb-1",
                "customer_id": CUSTOMER_ID,
                "kind": "stb",
                "model": "X1",
                "os": "Linux",
                "app_version": "1.0",
                "ip": "192.0.2.1",
                "online": True,
                "first_seen_at": "2026-11-28T10:00:00Z",
                "connected_at": "2026-11-28T11:00:00Z",
                "last_seen_at": "2026-11-28T11:05:00Z",
            }
        ],
        "next_cursor": None,
        "max_devices": 2,
        "device_policy": "reject",
    }


def saved_page() -> dict[str, Any]:
    return {
        "items": [
            {
                "id": "5b0e3c56-3b3c-5a55-9c1e-8f0f64d5e1aa",
                "customer_id": CUSTOMER_ID,
                "profile_id": "p-kids",
                "item_type": "series",
                "item_id": "s-1",
                "title": "Cartoons",
                "added_at": "2026-11-28T10:00:00Z",
            }
        ],
        "next_cursor": "abc",
    }


def recording_page() -> dict[str, Any]:
    return {
        "items": [
            {
                "id": "rec-1",
                "customer_id": CUSTOMER_ID,
                "profile_id": "p-main",
                "channel_id": "ch-1",
                "programme_id": "prog-1",
                "title": "News",
                "starts_at": "2026-11-28T20:00:00Z",
                "ends_at": "2026-11-28T21:00:00Z",
                "state": "completed",
                "size_bytes": 1000,
                "failure_reason": None,
                "scheduled_at": "2026-11-28T10:00:00Z",
                "finished_at": "2026-11-28T21:00:00Z",
            }
        ],
        "next_cursor": None,
    }


async def test_devices_are_listed_with_the_limit_and_policy(
    client: httpx.AsyncClient, fake: FakeServices, operator_with_role: Any
) -> None:
    fake.answer("activity", "GET", f"{BASE}/devices", 200, device_page())
    viewer = await operator_with_role("viewer")

    response = await client.get(f"{API}/devices", headers=viewer)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["max_devices"], body["device_policy"]) == (2, "reject")
    assert body["items"][0]["ip"] == "192.0.2.1" and body["items"][0]["online"] is True


async def test_lists_pass_the_profile_filter_and_cursor_on(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.answer("activity", "GET", f"{BASE}/favorites", 200, saved_page())
    fake.answer("activity", "GET", f"{BASE}/watchlist", 200, saved_page())
    fake.answer("activity", "GET", f"{BASE}/recordings", 200, recording_page())

    favorites = await client.get(
        f"{API}/favorites",
        params={"profile_id": "p-kids", "limit": 5, "cursor": "xyz"},
        headers=admin,
    )
    watchlist = await client.get(f"{API}/watchlist", headers=admin)
    recordings = await client.get(
        f"{API}/recordings", params={"profile_id": "p-main"}, headers=admin
    )

    assert favorites.status_code == 200, favorites.text
    assert favorites.json()["next_cursor"] == "abc"
    assert favorites.json()["items"][0]["item_type"] == "series"
    assert watchlist.status_code == 200
    assert recordings.json()["items"][0]["state"] == "completed"
    calls = {c.url.path: dict(c.url.params) for c in fake.calls("activity", "GET")}
    assert calls[f"{BASE}/favorites"] == {"profile_id": "p-kids", "limit": "5", "cursor": "xyz"}
    assert calls[f"{BASE}/watchlist"] == {"limit": "50"}
    assert calls[f"{BASE}/recordings"] == {"profile_id": "p-main", "limit": "50"}


async def test_a_bad_limit_names_the_field(client: httpx.AsyncClient, admin: Headers) -> None:
    response = await client.get(f"{API}/favorites", params={"limit": 0}, headers=admin)
    body = assert_problem(response, 422)
    assert "limit" in str(body["errors"])


async def test_operators_unbind_devices_and_remove_items_and_each_is_audited(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers, operator_with_role: Any
) -> None:
    for path in ("devices/stb-1", "favorites/f-1", "watchlist/w-1", "recordings/rec-1"):
        fake.on("activity", "DELETE", f"{BASE}/{path}", lambda _: httpx.Response(204))
    operator = await operator_with_role("operator")

    for path in ("devices/stb-1", "favorites/f-1", "watchlist/w-1", "recordings/rec-1"):
        response = await client.delete(f"{API}/{path}", headers=operator)
        assert response.status_code == 204, response.text

    assert [c.url.path for c in fake.calls("activity", "DELETE")] == [
        f"{BASE}/devices/stb-1",
        f"{BASE}/favorites/f-1",
        f"{BASE}/watchlist/w-1",
        f"{BASE}/recordings/rec-1",
    ]
    audit = await client.get("/api/v1/audit", params={"customer_id": CUSTOMER_ID}, headers=admin)
    entries = audit.json()["items"]
    assert [(e["action"], e["status_code"], e["actor"]) for e in reversed(entries)] == [
        ("device.unbind", 204, "operator-user"),
        ("favorites.remove", 204, "operator-user"),
        ("watchlist.remove", 204, "operator-user"),
        ("recording.remove", 204, "operator-user"),
    ]
    assert entries[-1]["before"] == {"device_id": "stb-1"}


async def test_support_and_viewers_may_not_remove(
    client: httpx.AsyncClient,
    fake: FakeServices,
    operator_with_role: Callable[[str], Awaitable[Headers]],
) -> None:
    for role in ("support", "viewer"):
        headers = await operator_with_role(role)
        response = await client.delete(f"{API}/devices/stb-1", headers=headers)
        assert_problem(response, 403)
    assert fake.calls("activity") == []


async def test_an_unknown_device_is_the_services_404_and_an_absent_service_503(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.on(
        "activity",
        "DELETE",
        f"{BASE}/devices/nope",
        lambda _: problem(404, "Device not found", "customer has no device nope"),
    )
    fake.on("activity", "GET", f"{BASE}/recordings", unreachable)

    missing = await client.delete(f"{API}/devices/nope", headers=admin)
    down = await client.get(f"{API}/recordings", headers=admin)

    assert assert_problem(missing, 404)["title"] == "Device not found"
    assert assert_problem(down, 503)["service"] == "activity"
    audit = await client.get("/api/v1/audit", params={"customer_id": CUSTOMER_ID}, headers=admin)
    assert [(e["action"], e["status_code"]) for e in audit.json()["items"]] == [
        ("device.unbind", 404)
    ]
