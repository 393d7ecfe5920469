"""An oversized body is refused with 413 before anything parses it, declared or chunked."""

from collections.abc import AsyncIterator

import httpx

from gateway.tests.conftest import Headers

TEN_MB = 10 * 1024 * 1024


async def test_a_declared_oversized_body_is_refused_with_413(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    body = b'{"name": "' + b"x" * TEN_MB + b'"}'
    answer = await client.post(
        "/api/v1/webshops", content=body, headers={**admin, "content-type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["title"] == "Content too large"


async def test_a_chunked_oversized_body_is_cut_off_with_413(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"name": "'
        for _ in range(TEN_MB // 65536):
            sent += 65536
            yield b"x" * 65536
        yield b'"}'

    answer = await client.post(
        "/api/v1/webshops", content=chunks(), headers={**admin, "content-type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.json()["status"] == 413


async def test_an_ordinary_body_passes(client: httpx.AsyncClient, admin: Headers) -> None:
    answer = await client.post(
        "/api/v1/operators",
        json={"username": "jane", "password": "correct horse battery", "role": "viewer"},
        headers=admin,
    )
    assert answer.status_code == 201, answer.text
