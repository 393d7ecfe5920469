"""NUL characters are refused anywhere in a request, naming where, before a handler runs."""

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from services.runtime.nul_guard import NulGuard
from services.runtime.problems import install_problem_handlers

seen: list[object] = []


class Info(BaseModel):
    first_name: str
    tags: list[str] = []


class Body(BaseModel):
    info: Info


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(NulGuard)

    @app.get("/customers")
    async def search(q: str = "") -> dict[str, str]:
        seen.append(q)
        return {"q": q}

    @app.post("/customers")
    async def create(body: Body) -> Body:
        seen.append(body)
        return body

    return app


@pytest.fixture
async def client() -> httpx.AsyncClient:
    seen.clear()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://t")


@pytest.mark.parametrize(
    ("request_args", "field"),
    [
        ({"method": "GET", "url": "/customers?q=ada%00"}, "q"),
        ({"method": "GET", "url": "/customers%00x"}, "path"),
        (
            {
                "method": "POST",
                "url": "/customers",
                "content": b'{"info": {"first_name": "Ada\\u0000", "tags": []}}',
            },
            "info.first_name",
        ),
        (
            {
                "method": "POST",
                "url": "/customers",
                "content": b'{"info": {"first_name": "Ada", "tags": ["x", "\\u0000"]}}',
            },
            "info.tags.1",
        ),
    ],
)
async def test_a_nul_anywhere_is_a_422_naming_where(
    client: httpx.AsyncClient, request_args: dict[str, object], field: str
) -> None:
    headers = {"content-type": "application/json"}
    answer = await client.request(headers=headers, **request_args)  # type: ignore[arg-type]

    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["errors"] == [
        {"field": field, "message": "may not contain NUL characters"}
    ]
    assert seen == []


async def test_text_that_only_spells_a_nul_escape_and_plain_text_pass(
    client: httpx.AsyncClient,
) -> None:
    spelled = await client.post(
        "/customers",
        content=b'{"info": {"first_name": "back\\\\u0000slash"}}',
        headers={"content-type": "application/json"},
    )
    plain = await client.get("/customers", params={"q": "Zoë"})

    assert spelled.status_code == 200, spelled.text
    assert spelled.json()["info"]["first_name"] == "back\\u0000slash"
    assert plain.json() == {"q": "Zoë"}
