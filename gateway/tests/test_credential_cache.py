"""Verified credentials remembered: a revoked API key's bound across replicas, a cached token
still refused once it expires, the caches' size bound."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from gateway.identity import security
from gateway.identity.credential_cache import (
    ActiveApiKey,
    ApiKeyCache,
    CredentialCaches,
    TokenCache,
)
from gateway.identity.permissions import Role
from gateway.models import ApiKey
from gateway.tests.conftest import Headers
from gateway.tests.test_auth import assert_problem
from gateway.tests.test_gateway_costs import TTL, Clock

KEY = ActiveApiKey("id", "dashboard", Role.VIEWER)


async def new_key(client: httpx.AsyncClient, admin: Headers) -> tuple[str, dict[str, str]]:
    created = await client.post(
        "/api/v1/api-keys", json={"name": "dashboard", "role": "viewer"}, headers=admin
    )
    assert created.status_code == 201, created.text
    return created.json()["id"], {"X-API-Key": created.json()["key"]}


async def test_a_key_revoked_elsewhere_is_refused_once_the_ttl_has_passed(
    app: FastAPI, client: httpx.AsyncClient, admin: Headers
) -> None:
    clock = Clock()
    app.state.credential_caches = CredentialCaches(TokenCache(), ApiKeyCache(TTL, clock=clock))
    key_id, key = await new_key(client, admin)
    assert (await client.get("/api/v1/me", headers=key)).status_code == 200

    # As another gateway process would: the row changes, this process's cache is not told.
    async with app.state.db.transaction() as session:
        await session.execute(
            update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=datetime.now(UTC))
        )

    clock.now += TTL - 0.01
    assert (await client.get("/api/v1/me", headers=key)).status_code == 200
    clock.now += 0.01
    assert_problem(await client.get("/api/v1/me", headers=key), 401)


async def test_a_key_revoked_through_this_gateway_is_refused_at_once(
    app: FastAPI, client: httpx.AsyncClient, admin: Headers
) -> None:
    # The clock never moves: only forgetting can end the entry.
    app.state.credential_caches = CredentialCaches(TokenCache(), ApiKeyCache(TTL, clock=Clock()))
    key_id, key = await new_key(client, admin)
    assert (await client.get("/api/v1/me", headers=key)).status_code == 200

    assert (await client.delete(f"/api/v1/api-keys/{key_id}", headers=admin)).status_code == 204

    assert_problem(await client.get("/api/v1/me", headers=key), 401)


async def test_a_verified_token_is_not_verified_again_until_it_expires(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: Headers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app.state.credential_caches = CredentialCaches(TokenCache(), ApiKeyCache(TTL))
    verified: list[str] = []
    read_token = security.read_token

    def counting(token: str, *, key: str) -> security.ValidToken:
        verified.append(token)
        return read_token(token, key=key)

    monkeypatch.setattr(security, "read_token", counting)
    for _ in range(3):
        assert (await client.get("/api/v1/me", headers=admin)).status_code == 200
    assert len(verified) == 1


def test_a_token_cache_keeps_at_most_its_bound() -> None:
    cache = TokenCache(max_entries=2, clock=lambda: 0.0)
    for token in ("a", "b", "c"):
        cache.put(token, security.ValidToken(token, 0, expires_at=10.0))
    assert cache.get("a") is None
    assert cache.get("b") is not None and cache.get("c") is not None


def test_a_cached_token_past_its_expiry_is_dropped() -> None:
    clock = Clock()
    cache = TokenCache(clock=clock)
    cache.put("t", security.ValidToken("s", 0, expires_at=clock.now + 1))
    assert cache.get("t") is not None
    clock.now += 1
    assert cache.get("t") is None


async def test_an_api_key_cache_keeps_at_most_its_bound_and_no_unknown_key() -> None:
    cache = ApiKeyCache(TTL, max_entries=2, clock=Clock())
    reads: list[str] = []

    def reader(
        found: ActiveApiKey | None, name: str
    ) -> Callable[[], Awaitable[ActiveApiKey | None]]:
        async def read() -> ActiveApiKey | None:
            reads.append(name)
            return found

        return read

    for name in ("a", "b", "c"):
        await cache.active(name, reader(KEY, name))
    await cache.active("a", reader(KEY, "a"))
    assert reads == ["a", "b", "c", "a"]
    await cache.active("unknown", reader(None, "unknown"))
    await cache.active("unknown", reader(None, "unknown"))
    assert reads[-2:] == ["unknown", "unknown"]
