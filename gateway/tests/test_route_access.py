"""Every route of the app, whoever added it: 401 without credentials, 403 for each role that
lacks the route's permission, neither for a role that has it.

A route's permission is read from its dependencies (gateway.identity.auth tags the dependency
behind `CanSell`, `CanReadCustomers`, ..., `SignedIn` and `PublicRoute`); a route under /api/v1 that
declares none, or more than one, fails here.
"""

import re
from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from gateway.identity.auth import PUBLIC, SIGNED_IN, RouteAccess, route_access
from gateway.identity.permissions import ROLE_PERMISSIONS, Role
from gateway.routes.prefix import API_PREFIX
from gateway.tests.conftest import Headers

# Outside the API: health, metrics, docs and the console, open by design.
OPEN_PATHS = {"/", "/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json"}


def api_routes(app: FastAPI) -> list[tuple[str, str, RouteContext]]:
    """(method, path, route) of every API route, included routers flattened."""
    routes: list[tuple[str, str, RouteContext]] = []
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if isinstance(route.original_route, APIRoute) and path.startswith(API_PREFIX):
            routes.extend((method, path, route) for method in sorted(route.methods or ()))
    return routes


def concrete(path: str) -> str:
    """The path with each parameter replaced by a plausible id."""
    return re.sub(r"\{[^}]+\}", "0b7c9c1e-4e1a-4c53-9d5e-3f1f2f1a6b10", path)


def declared(route: RouteContext) -> RouteAccess:
    access = route_access(route.dependant)
    assert len(access) == 1, (
        f"{route.path} {sorted(route.methods or ())} must declare exactly one access requirement "
        f"(CanX alias, SignedIn or PublicRoute), found {sorted(access)}"
    )
    return next(iter(access))


async def test_every_route_declares_what_it_requires(app: FastAPI) -> None:
    assert len(api_routes(app)) > 10
    for _method, _path, route in api_routes(app):
        declared(route)
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if not path.startswith(API_PREFIX):
            assert path in OPEN_PATHS or path.startswith(("/console", "/docs")), (
                f"{path} is outside /api/v1 and not a known open path"
            )


async def test_every_protected_route_is_401_without_credentials(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    checked = 0
    for method, path, route in api_routes(app):
        if declared(route) == PUBLIC:
            continue
        response = await client.request(method, concrete(path))
        assert response.status_code == 401, f"{method} {path}: {response.status_code}"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["www-authenticate"].startswith("Bearer")
        checked += 1
    assert checked > 10


@pytest.fixture
async def role_headers(
    operator_with_role: Callable[[str], Awaitable[Headers]], admin: Headers
) -> dict[Role, Headers]:
    headers: dict[Role, Headers] = {
        role: await operator_with_role(role.value) for role in Role if role != Role.ADMIN
    }
    headers[Role.ADMIN] = admin
    return headers


async def test_every_route_is_403_for_each_role_without_its_permission(
    client: httpx.AsyncClient, app: FastAPI, role_headers: dict[Role, Headers]
) -> None:
    refusals = 0
    for method, path, route in api_routes(app):
        access = declared(route)
        if access in (PUBLIC, SIGNED_IN):
            continue
        for role, headers in role_headers.items():
            response = await client.request(method, concrete(path), headers=headers)
            if access in ROLE_PERMISSIONS[role]:
                assert response.status_code not in (401, 403), (
                    f"{role} may {access} but {method} {path} said {response.status_code}"
                )
            else:
                assert response.status_code == 403, (
                    f"{role} lacks {access} but {method} {path} said {response.status_code}"
                )
                assert response.json()["permission"] == access
                refusals += 1
    assert refusals > 10
