"""What the gateway saves per request keeps its behaviour: the operator cache's bound and the
list page relayed as the service's bytes."""

import json
from collections.abc import Awaitable, Callable

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from gateway.identity.operator_cache import OperatorCache
from gateway.models import Operator
from gateway.tests.conftest import Headers
from gateway.tests.fakes import FakeServices, customer
from gateway.tests.test_auth import assert_problem
from gateway.tests.test_operators import operator_id

TTL = 5.0
JSON_TYPE = {"content-type": "application/json"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cache_with(app: FastAPI, clock: Clock) -> None:
    app.state.operator_cache = OperatorCache(TTL, clock=clock)


async def change_elsewhere(app: FastAPI, operator: str, **values: object) -> None:
    """As another gateway process would: the row changes, this process's cache is not told."""
    async with app.state.db.transaction() as session:
        await session.execute(update(Operator).where(Operator.id == operator).values(**values))


async def test_an_operator_disabled_elsewhere_is_refused_once_the_ttl_has_passed(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: Headers,
    operator_with_role: Callable[[str], Awaitable[Headers]],
) -> None:
    viewer = await operator_with_role("viewer")
    target = await operator_id(client, admin, "viewer-user")
    clock = Clock()
    cache_with(app, clock)
    assert (await client.get("/api/v1/me", headers=viewer)).status_code == 200

    await change_elsewhere(app, target, disabled=True)

    clock.now += TTL - 0.01
    assert (await client.get("/api/v1/me", headers=viewer)).status_code == 200
    clock.now += 0.01
    refused = await client.get("/api/v1/me", headers=viewer)
    assert_problem(refused, 401)
    assert "disabled" in refused.json()["detail"]


async def test_a_demotion_elsewhere_applies_within_the_ttl(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: Headers,
    operator_with_role: Callable[[str], Awaitable[Headers]],
) -> None:
    operator = await operator_with_role("operator")
    target = await operator_id(client, admin, "operator-user")
    clock = Clock()
    cache_with(app, clock)
    assert (await client.get("/api/v1/me", headers=operator)).json()["role"] == "operator"

    await change_elsewhere(app, target, role="viewer")
    clock.now += TTL

    assert (await client.get("/api/v1/me", headers=operator)).json()["role"] == "viewer"


async def test_a_disabling_through_this_gateway_applies_at_once_despite_the_cache(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: Headers,
    operator_with_role: Callable[[str], Awaitable[Headers]],
) -> None:
    viewer = await operator_with_role("viewer")
    target = await operator_id(client, admin, "viewer-user")
    cache_with(app, Clock())  # the clock never moves: only forgetting can end the entry
    assert (await client.get("/api/v1/me", headers=viewer)).status_code == 200

    disabled = await client.patch(
        f"/api/v1/operators/{target}", json={"disabled": True}, headers=admin
    )

    assert disabled.status_code == 200
    assert_problem(await client.get("/api/v1/me", headers=viewer), 401)


async def test_without_a_ttl_every_request_reads_the_operator(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: Headers,
    operator_with_role: Callable[[str], Awaitable[Headers]],
) -> None:
    viewer = await operator_with_role("viewer")
    target = await operator_id(client, admin, "viewer-user")
    app.state.operator_cache = OperatorCache(0, clock=Clock())
    assert (await client.get("/api/v1/me", headers=viewer)).status_code == 200

    await change_elsewhere(app, target, disabled=True)

    assert_problem(await client.get("/api/v1/me", headers=viewer), 401)


async def test_the_list_page_is_the_service_answer_relayed_byte_for_byte(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    # Not parsed and written again: the service's bytes, spacing and key order included.
    page = json.dumps({"items": [customer()], "next_cursor": "abc", "total": 1}, indent=1)
    fake.on(
        "customers",
        "GET",
        "/customers",
        lambda _: httpx.Response(200, content=page.encode(), headers=JSON_TYPE),
    )

    response = await client.get("/api/v1/customers", headers=admin)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.content == page.encode()


async def test_a_list_refusal_of_the_service_is_its_problem(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    problem = {"type": "about:blank", "title": "Bad cursor", "status": 400, "detail": "bad"}
    fake.answer("customers", "GET", "/customers", 400, problem)

    response = await client.get("/api/v1/customers", headers=admin)

    assert assert_problem(response, 400)["title"] == "Bad cursor"


async def test_a_list_answer_that_is_not_json_is_502(
    client: httpx.AsyncClient, fake: FakeServices, admin: Headers
) -> None:
    fake.on("customers", "GET", "/customers", lambda _: httpx.Response(200, text="<html>"))

    response = await client.get("/api/v1/customers", headers=admin)

    body = assert_problem(response, 502)
    assert "not JSON" in str(body["detail"])
