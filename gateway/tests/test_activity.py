"""The activity routes against the real services: lists passed through with their filters,
removals by operators only, audited, and the activity service's problems passed on. What is on
the lists comes as it does in production: events of the TV apps on `apps.events`."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx

from gateway.tests.conftest import Headers
from gateway.tests.seed import connect_device, sell
from gateway.tests.services import InProcessServices
from gateway.tests.test_auth import assert_problem
from services.contracts.apps import (
    FavoriteAddedV1,
    RecordingCompletedV1,
    RecordingScheduledV1,
    WatchlistAddedV1,
)

RoleHeaders = Callable[[str], Awaitable[Headers]]


async def customer_with_activity(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> tuple[str, str, str]:
    """A customer with a device, two favorites (two profiles), a watchlist entry and a
    completed recording; its id and its main and kids profiles' (activity keeps the saved items
    of profiles the customers service announced only)."""
    customer_id: str = (await sell(client, services, admin))["id"]
    api = f"/api/v1/customers/{customer_id}/profiles"
    main: str = (await client.get(api, headers=admin)).json()["items"][0]["id"]
    made = await client.post(api, json={"name": "Kids", "kids": True}, headers=admin)
    assert made.status_code == 201, made.text
    kids: str = made.json()["id"]
    await services.settle()
    await connect_device(services, customer_id)
    now = datetime.now(UTC)
    for profile_id, item_id in ((kids, "s-1"), (main, "ch-1")):
        favorite = FavoriteAddedV1(
            customer_id=customer_id,
            profile_id=profile_id,
            item_type="series",
            item_id=item_id,
            title="Cartoons",
            at=now,
        )
        await services.apps_event(favorite, customer_id=customer_id)
    watch = WatchlistAddedV1(
        customer_id=customer_id, profile_id=main, item_type="movie", item_id="m-1", at=now
    )
    await services.apps_event(watch, customer_id=customer_id)
    scheduled = RecordingScheduledV1(
        customer_id=customer_id,
        profile_id=main,
        recording_id="rec-1",
        channel_id="ch-1",
        programme_id="prog-1",
        title="News",
        starts_at=now - timedelta(hours=2),
        ends_at=now - timedelta(hours=1),
        at=now - timedelta(hours=3),
    )
    await services.apps_event(scheduled, customer_id=customer_id)
    completed = RecordingCompletedV1(
        customer_id=customer_id, recording_id="rec-1", size_bytes=1000, at=now
    )
    await services.apps_event(completed, customer_id=customer_id)
    return customer_id, main, kids


async def test_devices_are_listed_with_the_limit_and_policy(
    client: httpx.AsyncClient,
    services: InProcessServices,
    admin: Headers,
    operator_with_role: RoleHeaders,
) -> None:
    customer_id: str = (await sell(client, services, admin))["id"]
    await connect_device(services, customer_id)
    viewer = await operator_with_role("viewer")

    response = await client.get(f"/api/v1/customers/{customer_id}/devices", headers=viewer)

    assert response.status_code == 200, response.text
    body = response.json()
    # The demo catalog's basic product sets no policy: activity's default applies.
    assert (body["max_devices"], body["device_policy"]) == (2, None)
    assert [(d["id"], d["model"]) for d in body["items"]] == [("stb-1", "X1")]


async def test_lists_pass_the_profile_filter_and_cursor_on(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    customer_id, main, kids_id = await customer_with_activity(client, services, admin)
    api = f"/api/v1/customers/{customer_id}"

    first = await client.get(f"{api}/favorites", params={"limit": 1}, headers=admin)
    second = await client.get(
        f"{api}/favorites",
        params={"limit": 1, "cursor": first.json()["next_cursor"]},
        headers=admin,
    )
    kids = await client.get(f"{api}/favorites", params={"profile_id": kids_id}, headers=admin)
    watchlist = await client.get(f"{api}/watchlist", headers=admin)
    recordings = await client.get(f"{api}/recordings", params={"profile_id": main}, headers=admin)

    assert first.status_code == second.status_code == 200, second.text
    pages = [first.json()["items"][0]["item_id"], second.json()["items"][0]["item_id"]]
    assert sorted(pages) == ["ch-1", "s-1"]
    assert second.json()["next_cursor"] is None
    assert [f["item_id"] for f in kids.json()["items"]] == ["s-1"]
    assert [w["item_type"] for w in watchlist.json()["items"]] == ["movie"]
    assert [(r["id"], r["state"]) for r in recordings.json()["items"]] == [("rec-1", "completed")]


async def test_a_bad_limit_names_the_field(client: httpx.AsyncClient, admin: Headers) -> None:
    response = await client.get(
        "/api/v1/customers/c-1/favorites", params={"limit": 0}, headers=admin
    )
    body = assert_problem(response, 422)
    assert "limit" in str(body["errors"])


async def test_operators_unbind_devices_and_remove_items_and_each_is_audited(
    client: httpx.AsyncClient,
    services: InProcessServices,
    admin: Headers,
    operator_with_role: RoleHeaders,
) -> None:
    customer_id, _, _ = await customer_with_activity(client, services, admin)
    api = f"/api/v1/customers/{customer_id}"
    favorite = (await client.get(f"{api}/favorites", headers=admin)).json()["items"][0]["id"]
    watched = (await client.get(f"{api}/watchlist", headers=admin)).json()["items"][0]["id"]
    operator = await operator_with_role("operator")
    paths = ("devices/stb-1", f"favorites/{favorite}", f"watchlist/{watched}", "recordings/rec-1")

    for path in paths:
        response = await client.delete(f"{api}/{path}", headers=operator)
        assert response.status_code == 204, response.text

    devices = await client.get(f"{api}/devices", headers=admin)
    favorites = await client.get(f"{api}/favorites", headers=admin)
    assert devices.json()["items"] == []
    assert len(favorites.json()["items"]) == 1
    audit = await client.get("/api/v1/audit", params={"customer_id": customer_id}, headers=admin)
    seeding = ("customer.create", "profile.create")
    entries = [e for e in audit.json()["items"] if e["action"] not in seeding]
    assert [(e["action"], e["status_code"], e["actor"]) for e in reversed(entries)] == [
        ("device.unbind", 204, "operator-user"),
        ("favorites.remove", 204, "operator-user"),
        ("watchlist.remove", 204, "operator-user"),
        ("recording.remove", 204, "operator-user"),
    ]
    assert entries[-1]["before"] == {"device_id": "stb-1"}


async def test_support_and_viewers_may_not_remove(
    client: httpx.AsyncClient, services: InProcessServices, operator_with_role: RoleHeaders
) -> None:
    for role in ("support", "viewer"):
        headers = await operator_with_role(role)
        response = await client.delete("/api/v1/customers/c-1/devices/stb-1", headers=headers)
        assert_problem(response, 403)
    assert services.calls("activity") == []


async def test_an_unknown_device_is_the_services_404_and_an_absent_service_503(
    client: httpx.AsyncClient, services: InProcessServices, admin: Headers
) -> None:
    customer_id: str = (await sell(client, services, admin))["id"]
    api = f"/api/v1/customers/{customer_id}"

    missing = await client.delete(f"{api}/devices/nope", headers=admin)
    services.down("activity")
    down = await client.get(f"{api}/recordings", headers=admin)

    assert_problem(missing, 404)
    assert assert_problem(down, 503)["service"] == "activity"
    audit = await client.get("/api/v1/audit", params={"customer_id": customer_id}, headers=admin)
    latest = audit.json()["items"][0]
    assert (latest["action"], latest["status_code"]) == ("device.unbind", 404)
