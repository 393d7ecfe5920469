"""The gateway's lists take the runtime's one `limit` bound and cursor length, and its own
lists (the audit log, dead letters) refuse a cursor they did not give out by name."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.routes.dead_letters import POSITIONS
from gateway.tests.conftest import Headers
from services.runtime.paging import MAX_CURSOR_LENGTH, MAX_PAGE_SIZE
from services.runtime.problems import Problem


def _cursor_parameters(app: FastAPI) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path, operations in app.openapi()["paths"].items():
        parameters = operations.get("get", {}).get("parameters", [])
        names = {p["name"]: p for p in parameters if p["in"] == "query"}
        if "cursor" in names:
            found.append((path, names))
    return found


def test_every_list_has_the_one_limit_bound_and_cursor_length(app: FastAPI) -> None:
    lists = _cursor_parameters(app)
    assert len(lists) >= 12
    for path, names in lists:
        cursor = next(s for s in names["cursor"]["schema"]["anyOf"] if s.get("type") == "string")
        assert cursor["maxLength"] == MAX_CURSOR_LENGTH, path
        assert names["limit"]["schema"]["maximum"] == MAX_PAGE_SIZE, path


@pytest.mark.parametrize("path", ["/api/v1/audit", "/api/v1/dead-letters/apps.events"])
async def test_an_own_list_refuses_a_bad_cursor_and_limit_by_name(
    client: httpx.AsyncClient, admin: Headers, path: str
) -> None:
    for params in (
        {"cursor": "bm90IGEgY3Vyc29y"},
        {"cursor": "A" * (MAX_CURSOR_LENGTH + 1)},
        {"limit": MAX_PAGE_SIZE + 1},
    ):
        refused = await client.get(path, params=params, headers=admin)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in refused.json()["errors"]] == list(params)


def test_dead_letter_positions_round_trip_and_refuse_a_negative_offset() -> None:
    positions = ((0, 5), (3, 2**62))
    assert POSITIONS.decode(POSITIONS.encode(positions)) == positions
    with pytest.raises(Problem) as refused:
        POSITIONS.decode(POSITIONS.encode(((0, -1),)))
    assert refused.value.extra["errors"][0]["field"] == "cursor"
