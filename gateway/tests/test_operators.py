"""Admins manage operators: role, disabling, password; the last admin stays."""

from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import jwt

from gateway.tests.conftest import JWT_SECRET, Headers, sign_in
from services.runtime.db import utcnow


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


async def test_a_new_password_or_a_re_enabled_account_ends_the_old_access_tokens(
    client: httpx.AsyncClient,
    admin: Headers,
    operator_with_role: Callable[[str], Awaitable[Headers]],
) -> None:
    before_password = await operator_with_role("operator")
    target = await operator_id(client, admin, "operator-user")

    changed = await client.patch(
        f"/api/v1/operators/{target}", json={"password": "a-new-password-2"}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    ended = await client.get("/api/v1/me", headers=before_password)
    assert ended.status_code == 401
    assert "session has ended" in ended.json()["detail"]

    before_disabling = await sign_in(client, "operator-user", "a-new-password-2")
    for disabled in (True, False):
        await client.patch(
            f"/api/v1/operators/{target}", json={"disabled": disabled}, headers=admin
        )
    # Enabled again, but the token from before is not revived.
    assert (await client.get("/api/v1/me", headers=before_disabling)).status_code == 401
    fresh = await sign_in(client, "operator-user", "a-new-password-2")
    assert (await client.get("/api/v1/me", headers=fresh)).status_code == 200
    # A role change alone keeps the session (the role is read from the database anyway).
    await client.patch(f"/api/v1/operators/{target}", json={"role": "support"}, headers=admin)
    assert (await client.get("/api/v1/me", headers=fresh)).json()["role"] == "support"


async def test_a_token_for_another_audience_or_issuer_is_refused(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    me = (await client.get("/api/v1/me", headers=admin)).json()
    now = utcnow()
    claims = {"sub": me["id"], "sv": 0, "iat": now, "exp": now + timedelta(minutes=5)}
    for extra in (
        {"iss": "tvcm-gateway"},  # no audience
        {"aud": "tvcm-api"},  # no issuer
        {"iss": "someone-else", "aud": "tvcm-api"},
        {"iss": "tvcm-gateway", "aud": "billing"},
    ):
        token = jwt.encode({**claims, **extra}, JWT_SECRET, algorithm="HS256")
        answer = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401, extra
    good = jwt.encode(
        {**claims, "iss": "tvcm-gateway", "aud": "tvcm-api"}, JWT_SECRET, algorithm="HS256"
    )
    assert (
        await client.get("/api/v1/me", headers={"Authorization": f"Bearer {good}"})
    ).status_code == 200
