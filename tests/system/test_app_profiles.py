"""The apps' side of profiles, end to end on real Kafka and the real services: an app creates,
renames and deletes a profile and the operator sees it; the customers service refuses an 11th
profile and a name taken (dead letters with the reason); what an app saves to a profile right
after creating it is kept, to a profile that does not exist dead-lettered; the operator's
removals and profile deletions reach the apps as commands."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.contracts.apps import (
    AppProfileCreatedV1,
    AppProfileDeletedV1,
    AppProfileUpdatedV1,
    FavoriteAddedV1,
)
from tests.system.conftest import System, eventually
from tests.system.test_activity import Apps, _get


@pytest.fixture
async def apps(system: System) -> AsyncIterator[Apps]:
    client = Apps(system)
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


async def _customer(client: httpx.AsyncClient) -> str:
    response = await client.post(
        "/api/v1/customers",
        json={
            "webshop_id": "shop-eu",
            "product_id": "basic",
            "plan_id": "basic-1m",
            "extra_product_ids": [],
            "info": {"first_name": "Pro", "last_name": f"File{uuid.uuid4().hex[:6]}"},
            "credentials": None,
        },
    )
    assert response.status_code == 201, response.text
    customer_id: str = response.json()["id"]
    return customer_id


async def _profiles(client: httpx.AsyncClient, customer_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await _get(client, f"/api/v1/customers/{customer_id}/profiles"))[
        "items"
    ]
    return items


async def _dead_letter(apps: Apps, raw: bytes, consumer: bytes) -> str:
    """The reason `consumer` gave for dead-lettering this record of apps.events."""

    async def find() -> str | None:
        await apps._drain()
        for topic, _body, value, headers in apps.seen:
            if (
                topic == "apps.events.dlq"
                and value == raw
                and headers.get("x-dlq-consumer") == consumer
            ):
                return headers["x-dlq-reason"].decode()
        return None

    # Activity holds a report for an unknown profile for the grace period (10 s here) first.
    return await eventually(find, timeout=60.0, what=f"{consumer.decode()}'s dead letter")


def _favorite(customer_id: str, profile_id: str, item_id: str) -> FavoriteAddedV1:
    return FavoriteAddedV1(
        customer_id=customer_id,
        profile_id=profile_id,
        item_type="movie",
        item_id=item_id,
        title=item_id,
        at=datetime.now(UTC),
    )


async def test_an_app_creates_renames_and_deletes_a_profile_and_saves_to_it_at_once(
    system: System, apps: Apps
) -> None:
    now = datetime.now(UTC)
    async with system.client() as client:
        customer_id = await _customer(client)
        base = f"/api/v1/customers/{customer_id}"
        profile_id = str(uuid.uuid4())
        await apps.send(
            "apps.events",
            AppProfileCreatedV1(
                customer_id=customer_id,
                profile_id=profile_id,
                name="Grandma",
                pin="1357",
                avatar="owl",
                at=now,
            ),
            customer_id,
        )
        # Right behind it, before activity can have heard of the profile from customers.
        await apps.send("apps.events", _favorite(customer_id, profile_id, "m-1"), customer_id)

        async def created() -> dict[str, Any] | None:
            return next(
                (p for p in await _profiles(client, customer_id) if p["id"] == profile_id), None
            )

        profile = await eventually(created, what="the app's profile")
        assert (profile["name"], profile["has_pin"], profile["avatar"]) == ("Grandma", True, "owl")

        async def saved() -> list[str] | None:
            page = await _get(client, f"{base}/favorites", profile_id=profile_id)
            return [i["item_id"] for i in page["items"]] or None

        assert await eventually(saved, what="the favorite saved right after") == ["m-1"]

        await apps.send(
            "apps.events",
            AppProfileUpdatedV1(
                customer_id=customer_id, profile_id=profile_id, name="Nana", at=now
            ),
            customer_id,
        )

        async def renamed() -> bool:
            return any(p["name"] == "Nana" for p in await _profiles(client, customer_id))

        await eventually(renamed, what="the rename")

        await apps.send(
            "apps.events",
            AppProfileDeletedV1(customer_id=customer_id, profile_id=profile_id, at=now),
            customer_id,
        )

        async def deleted() -> list[str] | None:
            names = [p["name"] for p in await _profiles(client, customer_id)]
            return names if names == ["Main"] else None

        await eventually(deleted, what="the deletion")

        async def favorites_gone() -> bool:
            return not (await _get(client, f"{base}/favorites"))["items"]

        await eventually(favorites_gone, what="the deleted profile's favorites to go")
        # The app deleted it itself: nothing is sent back to it.
        assert await apps.events("apps.commands", "profile.delete.v1", customer_id) == []


async def test_an_eleventh_profile_a_taken_name_and_a_favorite_for_no_profile_are_dead_lettered(
    system: System, apps: Apps
) -> None:
    now = datetime.now(UTC)
    async with system.client() as client:
        customer_id = await _customer(client)
        base = f"/api/v1/customers/{customer_id}"
        # "MAIN" is the default profile's name in other letters: taken.
        taken_id = str(uuid.uuid4())
        taken = await apps.send(
            "apps.events",
            AppProfileCreatedV1(customer_id=customer_id, profile_id=taken_id, name="MAIN", at=now),
            customer_id,
        )
        for n in range(9):
            await apps.send(
                "apps.events",
                AppProfileCreatedV1(
                    customer_id=customer_id,
                    profile_id=str(uuid.uuid4()),
                    name=f"Viewer {n}",
                    at=now,
                ),
                customer_id,
            )
        eleventh = await apps.send(
            "apps.events",
            AppProfileCreatedV1(
                customer_id=customer_id, profile_id=str(uuid.uuid4()), name="Eleven", at=now
            ),
            customer_id,
        )
        # Saved to the refused profile, and to one nobody ever created.
        to_refused = await apps.send(
            "apps.events", _favorite(customer_id, taken_id, "m-refused"), customer_id
        )
        to_nobody = await apps.send(
            "apps.events", _favorite(customer_id, str(uuid.uuid4()), "m-nobody"), customer_id
        )

        name_reason = await _dead_letter(apps, taken, b"customers")
        assert "Profile name taken" in name_reason and "name" in name_reason
        limit_reason = await _dead_letter(apps, eleventh, b"customers")
        assert "Too many profiles" in limit_reason and "at most 10" in limit_reason
        for raw in (to_refused, to_nobody):
            reason = await _dead_letter(apps, raw, b"activity")
            assert "is not a profile of customer" in reason

        names = [p["name"] for p in await _profiles(client, customer_id)]
        assert len(names) == 10 and "Eleven" not in names and "MAIN" not in names
        assert (await _get(client, f"{base}/favorites"))["items"] == []


async def test_the_operators_removals_and_profile_deletion_reach_the_apps(
    system: System, apps: Apps
) -> None:
    async with system.client() as client:
        customer_id = await _customer(client)
        base = f"/api/v1/customers/{customer_id}"
        added = await client.post(f"{base}/profiles", json={"name": "Teens"})
        assert added.status_code == 201, added.text
        teens_id: str = added.json()["id"]
        await apps.send("apps.events", _favorite(customer_id, teens_id, "m-7"), customer_id)

        async def saved() -> list[dict[str, Any]] | None:
            items: list[dict[str, Any]] = (await _get(client, f"{base}/favorites"))["items"]
            return items or None

        [favorite] = await eventually(saved, what="the favorite")
        removed = await client.delete(f"{base}/favorites/{favorite['id']}")
        assert removed.status_code == 204, removed.text
        gone = await client.delete(f"{base}/profiles/{teens_id}")
        assert gone.status_code == 204, gone.text

        [remove] = await apps.wait_for("apps.commands", "favorite.remove.v1", customer_id)
        assert remove == {
            "customer_id": customer_id,
            "profile_id": teens_id,
            "item_type": "movie",
            "item_id": "m-7",
        }
        [delete] = await apps.wait_for("apps.commands", "profile.delete.v1", customer_id)
        assert delete == {"customer_id": customer_id, "profile_id": teens_id}
