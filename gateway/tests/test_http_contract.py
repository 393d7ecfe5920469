"""What the gateway and every service promise over HTTP, held for every route by itself: a
boolean in a request body is JSON true or false (never 0 or "yes"), a number a JSON number
(never "5"), every error answer an
OpenAPI document names is problem+json with the ProblemDetails schema, and a path's `Allow`
names all of its methods (OPTIONS 204, another method 405)."""

import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from gateway.app import build
from gateway.tests.conftest import make_settings
from gateway.tests.services import SERVICE_TOKEN_SECRET, SPECS
from services.runtime.problems import PROBLEM_JSON
from services.runtime.service_app import create_app
from services.runtime.service_auth import ServiceTokenAuth

APPS = ["gateway", *(spec.name for spec in SPECS)]


def _app(name: str, tmp_path: Path) -> FastAPI:
    if name == "gateway":
        return build(make_settings(tmp_path))
    spec = next(spec for spec in SPECS if spec.name == name)
    return create_app(
        spec,
        spec.settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / name}.db",
            port=0,
            service_token_secret=SecretStr(SERVICE_TOKEN_SECRET),
        ),
    )


def _is_strict(metadata: list[Any]) -> bool:
    return any(getattr(item, "strict", None) for item in metadata)


def _lax_scalars(annotation: Any, strict: bool, where: str) -> Iterator[str]:
    """The places under `annotation` where a bool or a number is not strict."""
    if annotation in (bool, int, float):
        if not strict:
            yield where
        return
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, field in annotation.model_fields.items():
            yield from _field_lax_scalars(field, f"{annotation.__name__}.{name}")
        return
    if typing.get_origin(annotation) is typing.Annotated:
        inner, *metadata = typing.get_args(annotation)
        yield from _lax_scalars(inner, strict or _is_strict(metadata), where)
        return
    for argument in typing.get_args(annotation):
        yield from _lax_scalars(argument, strict, where)


def _field_lax_scalars(field: FieldInfo, where: str) -> Iterator[str]:
    yield from _lax_scalars(field.annotation, _is_strict(field.metadata), where)


def _request_bodies(app: FastAPI) -> Iterator[tuple[str, Any]]:
    for context in iter_route_contexts(app.router.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.body_field is not None:
            yield route.path, route.body_field.field_info.annotation


@pytest.mark.parametrize("name", APPS)
def test_every_boolean_and_number_of_every_request_body_is_strict(
    name: str, tmp_path: Path
) -> None:
    """`"disabled": 0` was read as false and `"max_devices": "3"` as 3: pydantic's lax mode
    turns 0, 1, "yes", "off" into booleans and numeric strings into numbers. A request field
    takes what its OpenAPI schema says: JSON true and false, JSON numbers."""
    lax = sorted(
        {
            place
            for _path, annotation in _request_bodies(_app(name, tmp_path))
            for place in _lax_scalars(annotation, False, "body")
        }
    )
    assert lax == []


async def test_a_number_for_a_boolean_is_a_422_naming_the_field(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    me = (await client.get("/api/v1/me", headers=admin)).json()
    response = await client.patch(
        f"/api/v1/operators/{me['id']}", json={"disabled": 0}, headers=admin
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert [error["field"] for error in response.json()["errors"]] == ["disabled"]
    assert (await client.get("/api/v1/me", headers=admin)).status_code == 200


@pytest.mark.parametrize("name", APPS)
def test_every_error_answer_in_the_openapi_is_problem_json(name: str, tmp_path: Path) -> None:
    document = _app(name, tmp_path).openapi()
    wrong = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status[0] not in "45":
                    continue
                content = response.get("content", {})
                schema = content.get(PROBLEM_JSON, {}).get("schema", {})
                if list(content) != [PROBLEM_JSON] or schema.get("$ref", "").rsplit("/", 1)[-1] != (
                    "ProblemDetails"
                ):
                    wrong.append(f"{method.upper()} {path} {status}: {sorted(content)}")
            for always in ("422", "503"):
                if always not in operation["responses"]:
                    wrong.append(f"{method.upper()} {path}: no {always}")
    assert wrong == []
    assert "ProblemDetails" in document["components"]["schemas"]
    assert "HTTPValidationError" not in document["components"]["schemas"]


async def test_a_refusal_has_the_content_type_its_openapi_names(
    client: httpx.AsyncClient, admin: dict[str, str], app: FastAPI
) -> None:
    response = await client.get("/api/v1/customers/no-such-customer/subscription", headers=admin)
    assert response.status_code == 404
    documented = app.openapi()["paths"]["/api/v1/customers/{customer_id}/subscription"]["get"]
    assert list(documented["responses"]["404"]["content"]) == [response.headers["content-type"]]


async def test_options_names_every_method_of_a_path(client: httpx.AsyncClient) -> None:
    # GET, PATCH and DELETE of /customers/{id} live in two routers: Starlette's own 405 named
    # the first route's method only, and OPTIONS was a 405.
    response = await client.options("/api/v1/customers/c-1")
    assert response.status_code == 204
    assert response.headers["allow"] == "DELETE, GET, OPTIONS, PATCH"


async def test_a_method_a_path_does_not_take_is_405_with_the_full_allow(
    client: httpx.AsyncClient,
) -> None:
    response = await client.put("/api/v1/customers/c-1", json={})
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, OPTIONS, PATCH"
    assert response.headers["content-type"] == PROBLEM_JSON
    assert (await client.options("/api/v1/no-such-path")).status_code == 404


def _api_routes(app: FastAPI) -> dict[str, set[str]]:
    """Each path of the app's API routes and the methods its routes take."""
    paths: dict[str, set[str]] = {}
    for context in iter_route_contexts(app.router.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path is not None:
            paths.setdefault(context.path, set()).update(route.methods or ())
    return paths


@pytest.mark.parametrize("name", [spec.name for spec in SPECS])
async def test_a_service_answers_options_with_its_methods(name: str, tmp_path: Path) -> None:
    app = _app(name, tmp_path)
    paths = _api_routes(app)
    path = next(path for path in sorted(paths) if "{" not in path and path != "/healthz")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"http://{name}.test",
        auth=ServiceTokenAuth(SERVICE_TOKEN_SECRET, actor="tests"),
    ) as http:
        response = await http.options(path)
    assert response.status_code == 204
    assert response.headers["allow"] == ", ".join(sorted(paths[path] | {"OPTIONS"}))


@pytest.mark.parametrize(
    "body",
    [b'{"name": "\xff"}', b"[" * 100_000, b'{"name": "x"'],
    ids=["not-utf8", "too-deep", "cut-short"],
)
async def test_an_unreadable_body_is_the_documented_422(
    client: httpx.AsyncClient, admin: dict[str, str], body: bytes
) -> None:
    """FastAPI answered 400 (documented nowhere) to a body that is not UTF-8 or nests too
    deep, and 422 naming a field "7" to JSON cut short."""
    response = await client.patch(
        "/api/v1/webshops/shop-eu",
        content=body,
        headers={**admin, "content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert [error["field"] for error in response.json()["errors"]] == ["(body)"]


@pytest.mark.parametrize("path", ["/api/v1/customers", "/api/v1/customers/export.csv"])
async def test_a_number_for_a_query_datetime_is_a_422_naming_it(
    client: httpx.AsyncClient, admin: dict[str, str], path: str
) -> None:
    response = await client.get(path, params={"expires_before": "0"}, headers=admin)
    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["expires_before"]
    response = await client.get(
        path, params={"expires_before": "2030-01-01T00:00:00Z"}, headers=admin
    )
    assert response.status_code == 200, response.text


async def test_a_path_named_literally_takes_only_its_own_methods(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """PATCH /customers/export.csv reached PATCH /customers/{customer_id} and was a 422 about
    a customer id: the export is a resource of its own, read-only."""
    response = await client.patch("/api/v1/customers/export.csv", json={}, headers=admin)
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "GET, OPTIONS"
    assert (await client.options("/api/v1/customers/export.csv")).headers["allow"] == (
        "GET, OPTIONS"
    )
    assert (await client.get("/api/v1/customers/export.csv", headers=admin)).status_code == 200
