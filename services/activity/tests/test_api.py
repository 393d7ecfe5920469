"""The activity service's internal HTTP API over its real app: lists, removals as
problem+json, the timeline and stats shapes the gateway relies on; and its settings."""

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import ValidationError

from services.activity.app import SPEC
from services.activity.config import ActivitySettings
from services.activity.tests.conftest import Feed
from services.activity.tests.events import CUSTOMER, activated, connected, favorite, scheduled
from services.runtime.db import Database
from services.runtime.service_app import create_app
from services.runtime.service_auth import ServiceTokenAuth


@pytest.fixture
async def api(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    # No lifespan: the database is migrated by the fixture, and no broker is needed to read.
    settings = ActivitySettings(database_url=db.url, port=0)
    app = create_app(SPEC, settings)
    transport = httpx.ASGITransport(app=app)
    auth = ServiceTokenAuth(settings.service_token_key, actor="tests")
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://activity", auth=auth
        ) as client:
            yield client
    finally:
        await app.state.runtime.db.dispose()


BASE = f"/customers/{CUSTOMER}"


async def test_lists_and_removals_over_http(api: httpx.AsyncClient, feed: Feed) -> None:
    await feed(activated(2))
    await feed(connected("a"))
    await feed(favorite("ch-1"))
    await feed(scheduled("r-1"))

    devices = (await api.get(f"{BASE}/devices")).json()
    assert [d["id"] for d in devices["items"]] == ["a"]
    assert (devices["max_devices"], devices["device_policy"]) == (2, None)
    [item] = (await api.get(f"{BASE}/favorites", params={"profile_id": "p-main"})).json()["items"]
    assert (await api.get(f"{BASE}/favorites", params={"profile_id": "other"})).json() == {
        "items": [],
        "next_cursor": None,
    }

    assert (await api.delete(f"{BASE}/favorites/{item['id']}")).status_code == 204
    assert (await api.delete(f"{BASE}/recordings/r-1")).status_code == 204
    unbound = await api.delete(f"{BASE}/devices/a", headers={"Idempotency-Key": "u-1"})
    assert unbound.status_code == 204
    # A retried removal with its key is the first answer again, not a 404.
    again = await api.delete(f"{BASE}/devices/a", headers={"Idempotency-Key": "u-1"})
    assert again.status_code == 204 and again.headers["Idempotent-Replayed"] == "true"
    for path in ("favorites/" + item["id"], "recordings/r-1", "devices/a", "watchlist/x"):
        missing = await api.delete(f"{BASE}/{path}")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
    bad = await api.get(f"{BASE}/recordings", params={"cursor": "nope"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


async def test_timeline_and_stats_have_the_agreed_shape(api: httpx.AsyncClient, feed: Feed) -> None:
    await feed(activated(1))
    await feed(connected("a"))
    await feed(connected("b"))

    timeline = (await api.get(f"{BASE}/timeline", params={"limit": 200})).json()
    assert timeline["next_cursor"] is None
    assert [(i["service"], i["kind"], i["ref"]) for i in timeline["items"]] == [
        ("activity", "device.rejected", "b"),
        ("activity", "device.connected", "a"),
    ]
    assert all(i["summary"] and i["at"].endswith("Z") for i in timeline["items"])
    assert (await api.get("/stats")).json() == {"devices_online": 1, "devices_total": 1}


def test_settings_come_from_the_environment_and_refuse_nonsense(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACTIVITY_DEFAULT_DEVICE_POLICY", "evict_oldest")
    monkeypatch.setenv("DEVICE_OFFLINE_AFTER", "30")
    settings = ActivitySettings()
    assert (settings.default_device_policy, settings.device_offline_after_seconds) == (
        "evict_oldest",
        30.0,
    )
    monkeypatch.setenv("ACTIVITY_DEFAULT_DEVICE_POLICY", "kick_everyone")
    with pytest.raises(ValidationError):
        ActivitySettings()


async def test_requests_are_counted_by_route_template_and_status(api: httpx.AsyncClient) -> None:
    from services.runtime.metrics import HTTP_REQUESTS

    counted = HTTP_REQUESTS.labels("activity", "GET", "/customers/{customer_id}/devices", "200")
    before = counted._value.get()
    assert (await api.get(f"{BASE}/devices")).status_code == 200
    assert counted._value.get() == before + 1
    metrics = (await api.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/customers/{customer_id}/devices"' in metrics
