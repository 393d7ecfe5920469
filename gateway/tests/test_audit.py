"""Every write through the gateway leaves an audit entry, and no secret lands in it."""

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from gateway.audit import AuditTrail, scrub
from gateway.identity.auth import Principal
from gateway.identity.permissions import Role
from gateway.settings import GatewaySettings
from gateway.tests.conftest import Headers
from gateway.tests.fakes import CUSTOMER_ID, GENERATED_PASSWORD, FakeServices, problem
from gateway.tests.test_auth import SALE, assert_problem
from gateway.tests.test_customers import billing_allows_the_sale, customers_creates
from services.runtime.db import Database
from services.runtime.problems import Problem


def raw_audit_rows(settings: GatewaySettings) -> list[str]:
    """Each audit row as the database holds it, every column as text."""
    engine = sa.create_engine(settings.database_url.replace("+aiosqlite", ""))
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT * FROM audit_entry")).all()
    finally:
        engine.dispose()
    return [" ".join(str(v) for v in row) for row in rows]


async def test_customer_creation_is_audited_without_the_password(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers, settings: GatewaySettings
) -> None:
    billing_allows_the_sale(fake)
    customers_creates(fake)
    created = await client.post("/api/v1/customers", json=SALE, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["password"] == GENERATED_PASSWORD

    response = await client.get(f"/api/v1/audit?customer_id={CUSTOMER_ID}", headers=admin)

    assert response.status_code == 200, response.text
    (entry,) = response.json()["items"]
    assert entry["action"] == "customer.create"
    assert (entry["actor"], entry["actor_kind"]) == ("admin", "operator")
    assert (entry["method"], entry["path"]) == ("POST", "/api/v1/customers")
    assert entry["status_code"] == 201
    assert entry["before"] is None
    assert entry["after"]["id"] == CUSTOMER_ID
    assert entry["after"]["login"] == "4812093377"
    assert "password" not in entry["after"]
    assert all(GENERATED_PASSWORD not in row for row in raw_audit_rows(settings))


async def test_refused_sale_is_audited_with_its_status(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.on(
        "billing",
        "POST",
        "/orders/check",
        lambda _: problem(422, "Order not allowed", "no", errors=[{"field": "plan_id"}]),
    )
    assert (await client.post("/api/v1/customers", json=SALE, headers=admin)).status_code == 422

    response = await client.get("/api/v1/audit?actor=admin", headers=admin)

    (entry,) = [e for e in response.json()["items"] if e["action"] == "customer.create"]
    assert (entry["status_code"], entry["after"], entry["customer_id"]) == (422, None, None)


async def test_api_key_creation_is_audited_without_the_key(
    client: httpx.AsyncClient, admin: Headers, settings: GatewaySettings
) -> None:
    created = await client.post("/api/v1/api-keys", json={"name": "dash"}, headers=admin)
    key = created.json()["key"]

    response = await client.get("/api/v1/audit", headers=admin)

    (entry,) = [e for e in response.json()["items"] if e["action"] == "api_key.create"]
    assert entry["after"]["name"] == "dash"
    assert "key" not in entry["after"]
    assert all(key not in row for row in raw_audit_rows(settings))


async def test_audit_filters_by_actor_and_pages_newest_first(
    client: httpx.AsyncClient,
    admin: Headers,
    operator_with_role: Callable[[str], Awaitable[Headers]],
) -> None:
    await operator_with_role("viewer")  # one operator.create by admin
    for name in ("k1", "k2", "k3"):
        await client.post("/api/v1/api-keys", json={"name": name}, headers=admin)

    first = await client.get("/api/v1/audit?actor=admin&limit=2", headers=admin)
    second = await client.get(
        f"/api/v1/audit?actor=admin&limit=2&cursor={first.json()['next_cursor']}", headers=admin
    )
    nobody = await client.get("/api/v1/audit?actor=nobody", headers=admin)

    names = [e["after"]["name"] for e in first.json()["items"]]
    assert names == ["k3", "k2"]
    assert [e["action"] for e in second.json()["items"]] == ["api_key.create", "operator.create"]
    assert second.json()["next_cursor"] is None
    assert nobody.json()["items"] == []
    bad = await client.get("/api/v1/audit?cursor=zzz", headers=admin)
    assert_problem(bad, 422)
    assert bad.json()["errors"][0]["field"] == "cursor"


async def test_first_admin_creation_is_audited(client: httpx.AsyncClient, admin: Headers) -> None:
    response = await client.get("/api/v1/audit?actor=gateway", headers=admin)

    (entry,) = response.json()["items"]
    assert entry["action"] == "operator.bootstrap"
    assert entry["after"]["username"] == "admin"
    assert "password_hash" not in entry["after"]


async def test_a_write_is_refused_when_its_audit_entry_cannot_be_written(
    tmp_path: Path,
) -> None:
    # No migrations ran on this database, so the audit table is missing.
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    trail = AuditTrail(db, Principal("operator", "1", "jane", Role.ADMIN), "POST", "/x")
    wrote = False
    try:
        with pytest.raises(sa.exc.OperationalError):
            async with trail.record("thing.create"):
                wrote = True
    finally:
        await db.dispose()
    assert not wrote


def test_scrub_removes_secrets_at_any_depth() -> None:
    record = {"id": 1, "password": "x", "nested": [{"key": "k", "hash": "h", "name": "n"}]}

    assert scrub(record) == {"id": 1, "nested": [{"name": "n"}]}


async def test_problem_inside_a_write_is_recorded_with_its_status(
    client: httpx.AsyncClient, admin: Headers, settings: GatewaySettings
) -> None:
    db = Database(settings.database_url)
    trail = AuditTrail(db, Principal("api_key", "2", "robot", Role.ADMIN), "POST", "/y")
    try:
        with pytest.raises(Problem):
            async with trail.record("thing.create", customer_id="c-1"):
                raise Problem(409, "Conflict")
    finally:
        await db.dispose()

    response = await client.get("/api/v1/audit?actor=robot", headers=admin)

    (entry,) = response.json()["items"]
    assert (entry["status_code"], entry["customer_id"], entry["actor_kind"]) == (
        409,
        "c-1",
        "api_key",
    )
