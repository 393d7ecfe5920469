"""The gateway under test: a temporary SQLite database, the four real services in-process
(gateway/tests/services.py), an in-process client."""

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from gateway.app import build
from gateway.settings import GatewaySettings
from gateway.tests.services import (
    SERVICE_TOKEN_SECRET,
    SERVICE_URLS,
    InProcessServices,
    in_process_services,
)

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin-password-1"
JWT_SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
# The gateway under test signs its calls to services with it; real services in a test check
# it (give them `service_token_secret=SecretStr(SERVICE_TOKEN_SECRET)`).

Headers = dict[str, str]


def make_settings(tmp_path: Path, **changes: object) -> GatewaySettings:
    values: dict[str, object] = {
        "environment": "test",
        "data_dir": tmp_path,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}",
        "jwt_secret": SecretStr(JWT_SECRET),
        "service_token_secret": SecretStr(SERVICE_TOKEN_SECRET),
        "admin_username": ADMIN_USERNAME,
        "admin_password": SecretStr(ADMIN_PASSWORD),
        "customers_url": SERVICE_URLS["customers"],
        "billing_url": SERVICE_URLS["billing"],
        "tickets_url": SERVICE_URLS["tickets"],
        "activity_url": SERVICE_URLS["activity"],
        # Generous: a sale hashes a password (argon2), slow on a loaded machine; the tests of
        # timeouts set their own.
        "service_timeout_seconds": 30.0,
        # No Kafka under the gateway's own tests: nothing to read the consumer lag from.
        "consumer_lag_interval_seconds": 0,
    }
    values.update(changes)
    return GatewaySettings.model_validate(values)


@pytest.fixture(autouse=True)
def _no_gateway_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read the environment even when given values: keep the runner's out of tests."""
    for field in GatewaySettings.model_fields.values():
        if isinstance(field.validation_alias, str):
            monkeypatch.delenv(field.validation_alias, raising=False)


@pytest.fixture
def settings(tmp_path: Path) -> GatewaySettings:
    return make_settings(tmp_path)


@pytest.fixture
async def services(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[InProcessServices]:
    async with in_process_services(request, tmp_path) as running:
        yield running


@pytest.fixture
async def app(settings: GatewaySettings, services: InProcessServices) -> AsyncIterator[FastAPI]:
    """The gateway app, started (migrations, first admin), in front of the real services."""
    gateway = build(settings, transport=services.transport)
    # ASGITransport does not run the lifespan; entering it here does what uvicorn would.
    async with gateway.router.lifespan_context(gateway):
        yield gateway


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        yield http


async def sign_in(http: httpx.AsyncClient, username: str, password: str) -> Headers:
    response = await http.post(
        "/api/v1/auth/token", data={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await sign_in(client, ADMIN_USERNAME, ADMIN_PASSWORD)


@pytest.fixture
def operator_with_role(
    client: httpx.AsyncClient, admin: Headers
) -> Callable[[str], Awaitable[Headers]]:
    """Creates an operator with the role (through the API, as admin) and signs them in."""

    async def create(role: str) -> Headers:
        username, password = f"{role}-user", f"{role}-password-1"
        response = await client.post(
            "/api/v1/operators",
            json={"username": username, "password": password, "role": role},
            headers=admin,
        )
        assert response.status_code == 201, response.text
        return await sign_in(client, username, password)

    return create
