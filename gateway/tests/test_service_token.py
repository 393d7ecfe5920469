"""Every call from the gateway to a service carries a fresh service token signed with
SERVICE_TOKEN_SECRET that names who the gateway acts for: the operator, or the API key; the
services, real and in-process here, refuse a gateway that signs with another key."""

from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from gateway.app import build
from gateway.settings import GatewaySettings
from gateway.tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, Headers, make_settings
from gateway.tests.seed import sell
from gateway.tests.services import InProcessServices
from services.runtime.service_auth import InvalidServiceToken, read_service_token


def _actors(services: InProcessServices, key: str) -> set[str]:
    actors = set()
    for _, request in services.transport.requests:
        scheme, _, token = request.headers["Authorization"].partition(" ")
        assert scheme == "Bearer"
        actors.add(read_service_token(key, token).actor)
    return actors


async def test_each_call_to_each_service_carries_a_token_naming_the_operator(
    client: httpx.AsyncClient,
    services: InProcessServices,
    admin: Headers,
    settings: GatewaySettings,
) -> None:
    created = await sell(client, services, admin)
    services.transport.requests.clear()

    response = await client.get(f"/api/v1/customers/{created['id']}", headers=admin)

    assert response.status_code == 200, response.text
    called = {name for name, _ in services.transport.requests}
    assert called >= {"customers", "billing", "tickets", "activity"}
    assert _actors(services, settings.service_token_key) == {ADMIN_USERNAME}


async def test_a_call_for_an_api_key_names_the_key(
    client: httpx.AsyncClient,
    services: InProcessServices,
    admin: Headers,
    settings: GatewaySettings,
) -> None:
    created = await client.post("/api/v1/api-keys", json={"name": "dash"}, headers=admin)
    services.transport.requests.clear()

    response = await client.get("/api/v1/customers", headers={"X-API-Key": created.json()["key"]})

    assert response.status_code == 200, response.text
    assert _actors(services, settings.service_token_key) == {"api_key:dash"}


async def test_the_token_is_signed_with_the_service_key_not_the_jwt_key(
    client: httpx.AsyncClient,
    services: InProcessServices,
    admin: Headers,
    settings: GatewaySettings,
) -> None:
    await client.get("/api/v1/customers", headers=admin)

    token = services.transport.requests[0][1].headers["Authorization"].removeprefix("Bearer ")
    with pytest.raises(InvalidServiceToken):
        read_service_token(settings.jwt_key, token)


async def test_a_gateway_with_another_key_gets_a_502_naming_the_setting(
    tmp_path: Path, services: InProcessServices
) -> None:
    other_key = SecretStr("another-service-token-key-0123456789abcdef")
    other = make_settings(tmp_path / "other", service_token_secret=other_key)
    gateway = build(other, transport=services.transport)
    async with gateway.router.lifespan_context(gateway):
        transport = httpx.ASGITransport(app=gateway)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            signed_in = await http.post(
                "/api/v1/auth/token", data={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
            )
            headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
            response = await http.get("/api/v1/customers", headers=headers)

    assert response.status_code == 502, response.text
    assert "SERVICE_TOKEN_SECRET" in response.json()["detail"]
    assert response.json()["service"] == "customers"
