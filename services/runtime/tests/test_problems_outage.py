"""A request refused because the database is away is 503 problem+json with Retry-After; any
other failure stays a 500."""

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError, IntegrityError

from services.runtime.problems import PROBLEM_JSON, install_problem_handlers


class _PostgresError(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/write")
    async def write() -> None:
        raise error

    return app


async def post(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post("/write")


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        DBAPIError("SELECT 1", {}, _PostgresError("the database system is starting up", "57P03")),
        DBAPIError("SELECT 1", {}, Exception("closed"), connection_invalidated=True),
    ],
)
async def test_a_database_outage_is_503_with_retry_after(error: Exception) -> None:
    response = await post(app_raising(error))

    assert response.status_code == 503
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["retry_after"] == int(response.headers["Retry-After"])


@pytest.mark.parametrize(
    "error",
    [
        ValueError("a bug"),
        IntegrityError("INSERT", {}, _PostgresError("duplicate key", "23505")),
    ],
)
async def test_other_failures_stay_500(error: Exception) -> None:
    response = await post(app_raising(error))

    assert response.status_code == 500
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert "Retry-After" not in response.headers
