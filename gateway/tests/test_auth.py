"""Sign-in, tokens, API keys and the role checks."""

import itertools
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import jwt
import pytest

from gateway.identity import security
from gateway.identity.permissions import ROLE_PERMISSIONS, Permission, Role
from gateway.tests.conftest import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    JWT_SECRET,
    Headers,
    sign_in,
)
from gateway.tests.fakes import CUSTOMER_ID, FakeServices, customer
from services.runtime.db import utcnow

SALE = {
    "webshop_id": "demo",
    "product_id": "basic",
    "plan_id": "basic-1m",
    "extra_product_ids": [],
    "info": {"first_name": "Jane", "last_name": "Doe"},
}


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["status"] == status
    return body


async def test_password_sign_in_issues_a_bearer_token_that_identifies_the_operator(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/v1/auth/token", data={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
    )

    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 30 * 60
    claims = jwt.decode(
        token["access_token"], JWT_SECRET, algorithms=["HS256"], audience="tvcm-api"
    )
    assert claims["role"] == "admin"
    assert (claims["iss"], claims["aud"], claims["sv"]) == ("tvcm-gateway", "tvcm-api", 0)
    assert claims["exp"] - claims["iat"] == 30 * 60
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert me.status_code == 200, me.text
    assert me.json()["name"] == ADMIN_USERNAME
    assert me.json()["kind"] == "operator"
    assert me.json()["id"] == claims["sub"]
    assert "operators:manage" in me.json()["permissions"]


async def test_wrong_password_and_unknown_operator_get_the_same_401(
    client: httpx.AsyncClient,
) -> None:
    wrong = await client.post(
        "/api/v1/auth/token", data={"username": ADMIN_USERNAME, "password": "not-the-password"}
    )
    unknown = await client.post(
        "/api/v1/auth/token", data={"username": "nobody", "password": ADMIN_PASSWORD}
    )

    assert assert_problem(wrong, 401)["detail"] == assert_problem(unknown, 401)["detail"]
    assert wrong.headers["www-authenticate"].startswith("Bearer")


async def test_request_without_credentials_is_401_problem_with_challenge(
    client: httpx.AsyncClient, fake: FakeServices
) -> None:
    response = await client.get("/api/v1/customers")

    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert fake.requests == []


async def test_expired_and_foreign_tokens_are_refused(client: httpx.AsyncClient) -> None:
    me = await client.get("/api/v1/me", headers=await sign_in(client, "admin", ADMIN_PASSWORD))
    operator_id = me.json()["id"]
    expired, _ = security.issue_token(
        subject=operator_id,
        role=Role.ADMIN,
        key=JWT_SECRET,
        now=utcnow() - timedelta(hours=2),
        lifetime=timedelta(minutes=30),
    )
    foreign, _ = security.issue_token(
        subject=operator_id,
        role=Role.ADMIN,
        key="another-secret-0123456789-abcdefghijklmnop",
        now=utcnow(),
        lifetime=timedelta(minutes=30),
    )

    details = []
    for token in (expired, foreign, "not-a-jwt"):
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        details.append(assert_problem(response, 401)["detail"])
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
    # One plain reason each, never the JWT library's own text.
    assert details == [
        "invalid token: the token has expired",
        "invalid token: the token is malformed or its signature is wrong",
        "invalid token: the token is malformed or its signature is wrong",
    ]


async def test_viewer_may_not_create_a_customer(
    client: httpx.AsyncClient,
    fake: FakeServices,
    operator_with_role: Callable[[str], Awaitable[Headers]],
) -> None:
    viewer = await operator_with_role("viewer")

    response = await client.post("/api/v1/customers", json=SALE, headers=viewer)

    body = assert_problem(response, 403)
    assert body["permission"] == "customers:write"
    assert fake.calls("billing") == [] and fake.calls("customers") == []


async def test_viewer_reads_customers_but_not_the_audit_log(
    client: httpx.AsyncClient,
    fake: FakeServices,
    operator_with_role: Callable[[str], Awaitable[Headers]],
) -> None:
    fake.answer("customers", "GET", "/customers", 200, {"items": [], "next_cursor": None})
    viewer = await operator_with_role("viewer")

    assert (await client.get("/api/v1/customers", headers=viewer)).status_code == 200
    assert_problem(await client.get("/api/v1/audit", headers=viewer), 403)
    assert_problem(await client.get("/api/v1/operators", headers=viewer), 403)


async def test_api_key_authenticates_until_revoked_and_its_secret_is_shown_once(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.answer("customers", "GET", f"/customers/{CUSTOMER_ID}", 200, customer())
    created = await client.post(
        "/api/v1/api-keys", json={"name": "dashboard", "role": "viewer"}, headers=admin
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith(created.json()["prefix"] + "_")

    me = await client.get("/api/v1/me", headers={"X-API-Key": key})
    assert me.status_code == 200, me.text
    assert me.json()["kind"] == "api_key"
    assert me.json()["name"] == "dashboard"
    assert me.json()["role"] == "viewer"
    listing = await client.get("/api/v1/api-keys", headers=admin)
    assert listing.status_code == 200
    assert [k["name"] for k in listing.json()["items"]] == ["dashboard"]
    assert key not in listing.text
    # A viewer key reads, and may not write.
    forbidden = await client.post("/api/v1/customers", json=SALE, headers={"X-API-Key": key})
    assert_problem(forbidden, 403)

    revoked = await client.delete(f"/api/v1/api-keys/{created.json()['id']}", headers=admin)
    assert revoked.status_code == 204, revoked.text
    after = await client.get("/api/v1/me", headers={"X-API-Key": key})
    assert_problem(after, 401)
    assert_problem(await client.get("/api/v1/me", headers={"X-API-Key": key + "x"}), 401)


async def test_revoking_an_unknown_api_key_is_404(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    assert_problem(await client.delete("/api/v1/api-keys/nope", headers=admin), 404)


async def test_operator_names_are_unique_ignoring_case(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    body = {"username": "jane", "password": "correct horse battery", "role": "support"}
    assert (await client.post("/api/v1/operators", json=body, headers=admin)).status_code == 201

    again = await client.post("/api/v1/operators", json=body, headers=admin)
    shouted = await client.post(
        "/api/v1/operators", json={**body, "username": "JANE"}, headers=admin
    )

    for refused in (again, shouted):
        problem = assert_problem(refused, 409)
        assert problem["errors"] == [{"field": "username", "message": "already taken"}]
    listing = await client.get("/api/v1/operators", headers=admin)
    assert [o["username"] for o in listing.json()["items"]] == ["admin", "jane"]
    assert "password" not in listing.text
    # She signs in whatever case she types.
    await sign_in(client, "Jane", "correct horse battery")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-pw-1", "at least 12 characters"),
        ("password1234", "too common"),
        ("Qwertyuiop123", "too common"),
        ("aaaaaaaaaaaaaaaa", "too common"),
        ("my-name-is-jane!", "must not contain the username"),
    ],
)
async def test_an_operator_password_must_be_long_and_uncommon(
    client: httpx.AsyncClient, admin: Headers, password: str, reason: str
) -> None:
    body = {"username": "jane", "password": password, "role": "support"}

    refused = await client.post("/api/v1/operators", json=body, headers=admin)

    problem = assert_problem(refused, 422)
    assert reason in refused.text
    assert password not in refused.text  # the refused password is not echoed back
    assert problem["status"] == 422


def test_each_role_can_do_what_the_role_below_it_can_and_more() -> None:
    ladder = [Role.VIEWER, Role.SUPPORT, Role.OPERATOR, Role.ADMIN]
    for lower, higher in itertools.pairwise(ladder):
        assert ROLE_PERMISSIONS[lower] < ROLE_PERMISSIONS[higher]
    assert Permission.CUSTOMERS_WRITE not in ROLE_PERMISSIONS[Role.SUPPORT]
    assert Permission.TICKETS_WRITE not in ROLE_PERMISSIONS[Role.VIEWER]
    assert Permission.CATALOG_WRITE not in ROLE_PERMISSIONS[Role.OPERATOR]
    assert set(Permission) == ROLE_PERMISSIONS[Role.ADMIN]
