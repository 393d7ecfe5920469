"""Refresh tokens (rotation, reuse detection, logout) and the limit on failed sign-ins."""

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from gateway.models import LoginFailure, RefreshToken
from gateway.tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME
from services.runtime.db import Database

TOKEN_URL = "/api/v1/auth/token"


async def password_grant(http: httpx.AsyncClient, password: str = ADMIN_PASSWORD) -> httpx.Response:
    return await http.post(TOKEN_URL, data={"username": ADMIN_USERNAME, "password": password})


async def refresh_grant(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post(TOKEN_URL, data={"grant_type": "refresh_token", "refresh_token": token})


async def test_sign_in_gives_a_refresh_token_stored_only_as_its_hash(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    answer = (await password_grant(client)).json()

    assert answer["refresh_token"].startswith("tvcmr_")
    assert 14 * 24 * 3600 - 5 <= answer["refresh_expires_in"] <= 14 * 24 * 3600
    db: Database = app.state.db
    async with db.sessions() as session:
        rows = list(await session.scalars(select(RefreshToken)))
    assert len(rows) == 1
    assert rows[0].hash != answer["refresh_token"]
    assert answer["refresh_token"] not in rows[0].hash


async def test_refresh_token_gives_a_new_pair_and_is_spent(client: httpx.AsyncClient) -> None:
    first = (await password_grant(client)).json()

    second = await refresh_grant(client, first["refresh_token"])

    assert second.status_code == 200, second.text
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"]
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me.json()["name"] == ADMIN_USERNAME
    third = await refresh_grant(client, pair["refresh_token"])
    assert third.status_code == 200, third.text


async def test_reusing_a_spent_refresh_token_revokes_the_whole_sign_in(
    client: httpx.AsyncClient,
) -> None:
    first = (await password_grant(client)).json()
    successor = (await refresh_grant(client, first["refresh_token"])).json()

    replay = await refresh_grant(client, first["refresh_token"])

    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert "already used" in replay.json()["detail"]
    # The thief's copy and the owner's successor both stop working.
    refused = await refresh_grant(client, successor["refresh_token"])
    assert refused.status_code == 400
    assert "revoked" in refused.json()["detail"]


async def test_logout_revokes_the_refresh_token_and_its_successors(
    client: httpx.AsyncClient,
) -> None:
    first = (await password_grant(client)).json()
    successor = (await refresh_grant(client, first["refresh_token"])).json()

    out = await client.post("/api/v1/auth/logout", data={"refresh_token": first["refresh_token"]})

    assert out.status_code == 204
    assert (await refresh_grant(client, successor["refresh_token"])).status_code == 400
    # Other sign-ins of the same operator are untouched.
    other = (await password_grant(client)).json()
    assert (await refresh_grant(client, other["refresh_token"])).status_code == 200


async def test_unknown_refresh_token_and_missing_fields_are_problems(
    client: httpx.AsyncClient,
) -> None:
    unknown = await refresh_grant(client, "tvcmr_not-a-token")
    missing = await client.post(TOKEN_URL, data={"grant_type": "refresh_token"})
    no_password = await client.post(TOKEN_URL, data={"username": ADMIN_USERNAME})

    assert unknown.status_code == 400
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "refresh_token"
    assert no_password.status_code == 422
    assert no_password.json()["errors"][0]["field"] == "password"


async def test_five_failures_for_a_username_lock_it_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(5):
        assert (await password_grant(client, "wrong-password")).status_code == 401

    locked = await password_grant(client)

    assert locked.status_code == 429
    assert locked.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(locked.headers["retry-after"]) <= 301
    assert "too many failed sign-ins" in locked.json()["detail"]


async def test_failures_from_one_address_lock_every_username_from_it(
    client: httpx.AsyncClient,
) -> None:
    for number in range(5):
        response = await client.post(
            TOKEN_URL, data={"username": f"guess{number}", "password": "x"}
        )
        assert response.status_code == 401

    # The right password for another username, from the same address, waits too.
    assert (await password_grant(client)).status_code == 429


async def test_success_clears_the_username_failures_and_old_failures_expire(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    for _ in range(4):
        await password_grant(client, "wrong-password")
    assert (await password_grant(client)).status_code == 200
    db: Database = app.state.db
    async with db.sessions() as session:
        scopes = [row.scope for row in await session.scalars(select(LoginFailure))]
    assert sorted(set(scopes)) == ["address"]


async def test_lock_ends_when_the_failures_are_older_than_the_window(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    for _ in range(5):
        await password_grant(client, "wrong-password")
    assert (await password_grant(client)).status_code == 429
    db: Database = app.state.db
    async with db.transaction() as session:
        # As if five minutes had passed: the failures age out of the window.
        for failure in await session.scalars(select(LoginFailure)):
            failure.at -= timedelta(seconds=301)

    assert (await password_grant(client)).status_code == 200
