"""The services' generated AsyncAPI documents (/asyncapi.json) show the apps' side of profiles:
the commands each service sends on apps.commands, with their payloads, and the apps' profile
events the customers service handles on apps.events."""

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.activity.app import SPEC as ACTIVITY
from services.customers.app import SPEC as CUSTOMERS
from services.runtime.service_app import ServiceSpec, create_app


async def asyncapi(spec: ServiceSpec, tmp_path: Path) -> dict[str, Any]:
    url = f"sqlite+aiosqlite:///{tmp_path / spec.name}.db"
    app = create_app(spec, spec.settings(database_url=url, port=0))
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            response = await client.get("/asyncapi.json")
    finally:
        await app.state.runtime.db.dispose()
    assert response.status_code == 200
    document: dict[str, Any] = json.loads(response.text)
    return document


def payload_fields(document: dict[str, Any], channel: str) -> set[str]:
    assert channel in document["channels"], sorted(document["channels"])
    schemas = document["components"]["schemas"]
    # The channel's message names its payload schema.
    [message] = [
        m for name, m in document["components"]["messages"].items() if name.startswith(channel)
    ]
    ref = message["payload"]["$ref"].rsplit("/", 1)[-1]
    return set(schemas[ref]["properties"])


@pytest.mark.parametrize(
    ("spec", "commands"),
    [
        (
            ACTIVITY,
            {
                "favorite.remove.v1": {"customer_id", "profile_id", "item_type", "item_id"},
                "watchlist.remove.v1": {"customer_id", "profile_id", "item_type", "item_id"},
                "recording.delete.v1": {"customer_id", "profile_id", "recording_id"},
            },
        ),
        (CUSTOMERS, {"profile.delete.v1": {"customer_id", "profile_id"}}),
    ],
    ids=["activity", "customers"],
)
async def test_the_commands_to_the_apps_are_documented_with_their_payloads(
    spec: ServiceSpec, commands: dict[str, set[str]], tmp_path: Path
) -> None:
    document = await asyncapi(spec, tmp_path)
    for command, fields in commands.items():
        assert payload_fields(document, f"apps.commands:{command}") == fields


async def test_the_customers_service_documents_the_apps_profile_events_it_handles(
    tmp_path: Path,
) -> None:
    document = await asyncapi(CUSTOMERS, tmp_path)
    [handles] = {c["description"] for c in document["channels"].values() if "description" in c}
    apps_part = handles.split("apps.events:", 1)[1]
    for event_type in ("profile.created.v1", "profile.updated.v1", "profile.deleted.v1"):
        assert event_type in apps_part
