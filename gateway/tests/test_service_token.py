"""Every call from the gateway to a service carries a fresh service token signed with
SERVICE_TOKEN_SECRET that names who the gateway acts for: the operator, or the API key."""

import httpx

from gateway.settings import GatewaySettings
from gateway.tests.conftest import ADMIN_USERNAME, Headers
from gateway.tests.fakes import FakeServices, customer_with_all_sections
from gateway.tests.test_details import DETAILS
from services.runtime.service_auth import InvalidServiceToken, read_service_token


def _actors(requests: list[httpx.Request], key: str) -> set[str]:
    actors = set()
    for request in requests:
        scheme, _, token = request.headers["Authorization"].partition(" ")
        assert scheme == "Bearer"
        actors.add(read_service_token(key, token).actor)
    return actors


async def test_each_call_to_each_service_carries_a_token_naming_the_operator(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers, settings: GatewaySettings
) -> None:
    customer_with_all_sections(fake)

    response = await client.get(DETAILS, headers=admin)

    assert response.status_code == 200, response.text
    services = {service for service, _ in fake.requests}
    assert services >= {"customers", "billing", "tickets", "activity"}
    requests = [request for _, request in fake.requests]
    assert _actors(requests, settings.service_token_key) == {ADMIN_USERNAME}


async def test_a_call_for_an_api_key_names_the_key(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers, settings: GatewaySettings
) -> None:
    created = await client.post("/api/v1/api-keys", json={"name": "dash"}, headers=admin)
    customer_with_all_sections(fake)

    response = await client.get(DETAILS, headers={"X-API-Key": created.json()["key"]})

    assert response.status_code == 200, response.text
    requests = [request for _, request in fake.requests]
    assert _actors(requests, settings.service_token_key) == {"api_key:dash"}


async def test_the_token_is_signed_with_the_service_key_not_the_jwt_key(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers, settings: GatewaySettings
) -> None:
    customer_with_all_sections(fake)
    await client.get(DETAILS, headers=admin)

    token = fake.requests[0][1].headers["Authorization"].removeprefix("Bearer ")
    try:
        read_service_token(settings.jwt_key, token)
    except InvalidServiceToken:
        pass
    else:
        raise AssertionError("a service token verified with the operators' JWT key")


async def test_a_service_refusing_the_gateway_s_token_is_a_502_not_the_operator_s_401(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.on(
        "customers",
        "GET",
        "/customers",
        lambda _: httpx.Response(401, json={"title": "Unauthorized", "status": 401}),
    )

    response = await client.get("/api/v1/customers", headers=admin)

    assert response.status_code == 502, response.text
    assert "SERVICE_TOKEN_SECRET" in response.json()["detail"]
    assert response.json()["service"] == "customers"
