"""Admins manage operators: role, disabling, password; the last admin stays."""

from collections.abc import Awaitable, Callable

import httpx

from gateway.tests.conftest import Headers, sign_in


async def operator_id(client: httpx.AsyncClient, admin: Headers, username: str) -> str:
    listing = (await client.get("/api/v1/operators", headers=admin)).json()["items"]
    return str(next(o["id"] for o in listing if o["username"] == username))


async def test_admin_changes_a_role_and_it_applies_to_the_next_request(
    client: httpx.AsyncClient,
    admin: Headers,
    operator_with_role: Callable[[str], Awaitable[Headers]],
) -> None:
    viewer = await operator_with_role("viewer")
    target = await operator_id(client, admin, "viewer-user")

    changed = await client.patch(
        f"/api/v1/operators/{target}", json={"role": "support"}, headers=admin
    )

    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "support"
    me = await client.get("/api/v1/me", headers=viewer)
    assert me.json()["role"] == "support"
    audit = (await client.get("/api/v1/audit", headers=admin)).json()["items"][0]
    assert audit["action"] == "operator.update"
    assert (audit["before"]["role"], audit["after"]["role"]) == ("viewer", "support")


async def test_disabling_ends_the_sessions_and_a_new_password_replaces_the_old(
    client: httpx.AsyncClient,
    admin: Headers,
    operator_with_role: Callable[[str], Awaitable[Headers]],
) -> None:
    await operator_with_role("operator")
    target = await operator_id(client, admin, "operator-user")
    pair = (
        await client.post(
            "/api/v1/auth/token",
            data={"username": "operator-user", "password": "operator-password-1"},
        )
    ).json()

    disabled = await client.patch(
        f"/api/v1/operators/{target}", json={"disabled": True}, headers=admin
    )

    assert disabled.status_code == 200
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 401
    refreshed = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]},
    )
    assert refreshed.status_code == 400
    await client.patch(
        f"/api/v1/operators/{target}",
        json={"disabled": False, "password": "a-new-password-2"},
        headers=admin,
    )
    await sign_in(client, "operator-user", "a-new-password-2")
    old = await client.post(
        "/api/v1/auth/token",
        data={"username": "operator-user", "password": "operator-password-1"},
    )
    assert old.status_code == 401


async def test_the_last_enabled_admin_cannot_be_demoted_or_disabled(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    me = (await client.get("/api/v1/me", headers=admin)).json()

    demoted = await client.patch(
        f"/api/v1/operators/{me['id']}", json={"role": "viewer"}, headers=admin
    )
    disabled = await client.patch(
        f"/api/v1/operators/{me['id']}", json={"disabled": True}, headers=admin
    )
    unknown = await client.patch(
        "/api/v1/operators/no-such-operator", json={"role": "viewer"}, headers=admin
    )

    assert demoted.status_code == 409, demoted.text
    assert disabled.status_code == 409
    assert (await client.get("/api/v1/me", headers=admin)).json()["role"] == "admin"
    assert unknown.status_code == 404
