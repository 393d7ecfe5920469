"""The service token: what it carries, what a service refuses, and the actor in the logs."""

import json
import logging
import time

import httpx
import jwt
import pytest
from fastapi import APIRouter, Depends, FastAPI

from services.runtime.logging_setup import ActorFilter, JsonFormatter
from services.runtime.problems import install_problem_handlers
from services.runtime.service_auth import (
    LEEWAY_SECONDS,
    TOKEN_SECONDS,
    InvalidServiceToken,
    ServiceTokenAuth,
    VerifiedTokens,
    mint_service_token,
    read_service_token,
    require_service_token,
)

KEY = "k" * 16 + "0123456789abcdefghij"


def test_a_token_names_its_actor_and_expires() -> None:
    token = mint_service_token(KEY, actor="alice")

    assert read_service_token(KEY, token).actor == "alice"
    with pytest.raises(InvalidServiceToken, match="expired"):
        read_service_token(KEY, mint_service_token(KEY, actor="alice", now=0))


def test_a_token_of_another_key_or_none_at_all_is_refused() -> None:
    with pytest.raises(InvalidServiceToken, match="not valid"):
        read_service_token(KEY, mint_service_token("another" + KEY, actor="alice"))
    with pytest.raises(InvalidServiceToken, match="not valid"):
        read_service_token(KEY, "not-a-token")


def test_a_verified_token_is_read_again_without_a_second_signature_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoded = []
    decode = jwt.decode

    def counting_decode(*args: object, **kwargs: object) -> object:
        decoded.append(1)
        return decode(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", counting_decode)
    tokens = VerifiedTokens()
    token = mint_service_token(KEY, actor="alice")

    assert [tokens.read(KEY, token).actor for _ in range(3)] == ["alice"] * 3
    assert len(decoded) == 1


def test_a_remembered_token_is_refused_once_it_expires_and_never_under_another_key() -> None:
    tokens = VerifiedTokens()
    # Past its exp, within the leeway for one or two more seconds: accepted, as jwt.decode would.
    issued = int(time.time()) - TOKEN_SECONDS - LEEWAY_SECONDS + 2
    token = mint_service_token(KEY, actor="alice", now=issued)
    assert tokens.read(KEY, token).actor == "alice"
    with pytest.raises(InvalidServiceToken, match="not valid"):
        tokens.read("another" + KEY, token)

    time.sleep(max(0.0, issued + TOKEN_SECONDS + LEEWAY_SECONDS - time.time()) + 0.1)
    with pytest.raises(InvalidServiceToken, match="expired"):
        tokens.read(KEY, token)


def test_an_invalid_token_is_not_remembered_and_the_memory_is_bounded() -> None:
    tokens = VerifiedTokens(max_entries=2)
    with pytest.raises(InvalidServiceToken):
        tokens.read(KEY, "not-a-token")
    with pytest.raises(InvalidServiceToken):
        tokens.read(KEY, "not-a-token")
    for actor in ("a", "b", "c", "d"):
        assert tokens.read(KEY, mint_service_token(KEY, actor=actor)).actor == actor
    assert len(tokens._entries) <= 2


def test_the_auth_signs_each_actor_once_a_second_with_the_token_a_fresh_signing_makes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signed: list[str] = []

    def counted(key: str, *, actor: str, now: float | None = None) -> str:
        signed.append(actor)
        return mint_service_token(key, actor=actor, now=now)

    monkeypatch.setattr("services.runtime.service_auth.mint_service_token", counted)
    now = [1_000.2]
    actor = ["alice"]
    auth = ServiceTokenAuth(KEY, actor=lambda: actor[0], clock=lambda: now[0])

    def header() -> str:
        request = httpx.Request("GET", "http://service.test/x")
        return str(next(auth.auth_flow(request)).headers["Authorization"])

    first = header()
    now[0] = 1_000.9
    assert header() == first == f"Bearer {mint_service_token(KEY, actor='alice', now=1_000)}"
    actor[0] = "bob"
    assert header() == f"Bearer {mint_service_token(KEY, actor='bob', now=1_000)}"
    actor[0] = "alice"
    assert header() == first  # each actor's own token
    now[0] = 1_001.0
    later = header()
    assert later != first and later == f"Bearer {mint_service_token(KEY, actor='alice', now=1_001)}"
    assert signed == ["alice", "bob", "alice"]


def test_a_token_lives_one_minute() -> None:
    assert TOKEN_SECONDS == 60


async def test_a_route_behind_the_check_answers_a_signed_call_and_logs_its_actor(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = APIRouter()
    written: list[str] = []

    @router.post("/things")
    async def create_thing() -> dict[str, str]:
        logging.getLogger("tests.things").info("thing created")
        written.append("thing")
        return {"ok": "yes"}

    app = FastAPI()
    app.state.service_token_key = KEY
    install_problem_handlers(app)
    app.include_router(router, dependencies=[Depends(require_service_token)])
    transport = httpx.ASGITransport(app=app)
    formatter = JsonFormatter("tests")
    caplog.handler.addFilter(ActorFilter())
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        refused = await client.post("/things")
        with caplog.at_level(logging.INFO):
            answered = await client.post("/things", auth=ServiceTokenAuth(KEY, actor="alice"))

    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert answered.status_code == 200
    assert written == ["thing"]
    lines = [json.loads(formatter.format(record)) for record in caplog.records]
    assert {"message": "POST /things by alice", "actor": "alice"}.items() <= lines[0].items()
    assert {"message": "thing created", "actor": "alice"}.items() <= lines[1].items()
    assert "actor" not in json.loads(formatter.format(logging.makeLogRecord({"msg": "idle"})))
