"""run_once's promises on SQLite and PostgreSQL: one effect per key, the stored answer replayed,
another request under the key refused, a key in flight 409, a dead claim taken over, expiry."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime import idempotency
from services.runtime.db import Database
from services.runtime.idempotency import Answer, IdempotentWrites, WriteOnceDep
from services.runtime.problems import Problem, install_problem_handlers
from services.runtime.tests.conftest import Tables


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Payment(BaseModel):
    amount: Decimal
    fail: bool = False
    slow: float = 0
    # The database goes away during the effect.
    outage: bool = False


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def writes(db: Database, tables: Tables, clock: Clock) -> IdempotentWrites:
    return IdempotentWrites(
        db, tables.idempotency, ttl=timedelta(hours=24), lease=timedelta(seconds=60), clock=clock
    )


@pytest.fixture
async def client(writes: IdempotentWrites, tables: Tables) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.idempotency = writes
    install_problem_handlers(app)

    @app.post("/customers/{customer_id}/payments", status_code=201)
    async def pay(customer_id: str, payload: Payment, once: WriteOnceDep) -> object:
        async def work(session: AsyncSession) -> Answer:
            if payload.slow:
                await asyncio.sleep(payload.slow)
            row = await session.execute(
                insert(tables.sample).values(amount=payload.amount).returning(tables.sample.c.id)
            )
            if payload.fail:
                raise Problem(400, "Refused")
            if payload.outage:
                raise ConnectionRefusedError(111, "Connect call failed")
            return Answer({"id": row.scalar_one(), "amount": payload.amount}, status_code=201)

        return await once(work)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def effects(db: Database, tables: Tables) -> int:
    async with db.sessions() as session:
        return int(
            (await session.execute(select(func.count()).select_from(tables.sample))).scalar_one()
        )


PATH = "/customers/c-1/payments"


async def test_a_retry_gets_the_stored_answer_without_a_second_effect(
    client: httpx.AsyncClient, db: Database, tables: Tables
) -> None:
    first = await client.post(PATH, json={"amount": "9.90"}, headers={"Idempotency-Key": "k1"})
    again = await client.post(PATH, json={"amount": "9.90"}, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await effects(db, tables) == 1


async def test_without_a_key_each_request_is_a_write(
    client: httpx.AsyncClient, db: Database, tables: Tables
) -> None:
    for _ in range(2):
        assert (await client.post(PATH, json={"amount": "1"})).status_code == 201
    assert await effects(db, tables) == 2


async def test_the_same_key_with_another_body_or_path_is_refused_or_separate(
    client: httpx.AsyncClient, db: Database, tables: Tables
) -> None:
    await client.post(PATH, json={"amount": "1"}, headers={"Idempotency-Key": "k"})
    reused = await client.post(PATH, json={"amount": "2"}, headers={"Idempotency-Key": "k"})
    assert reused.status_code == 422
    assert reused.headers["content-type"] == "application/problem+json"
    assert reused.json()["errors"][0]["field"] == "Idempotency-Key"
    # Scoped by path: another customer's identical key is another request.
    other = await client.post(
        "/customers/c-2/payments", json={"amount": "2"}, headers={"Idempotency-Key": "k"}
    )
    assert other.status_code == 201
    assert await effects(db, tables) == 2


async def test_the_same_body_in_another_key_order_is_the_same_request(
    client: httpx.AsyncClient,
) -> None:
    headers = {"Idempotency-Key": "k", "Content-Type": "application/json"}
    await client.post(PATH, content=b'{"amount": "1", "fail": false}', headers=headers)
    again = await client.post(PATH, content=b'{"fail":false,"amount":"1"}', headers=headers)
    assert again.headers.get("Idempotent-Replayed") == "true"


async def test_concurrent_requests_with_one_key_have_one_effect_and_no_error(
    client: httpx.AsyncClient, db: Database, tables: Tables
) -> None:
    answers = await asyncio.gather(
        *(
            client.post(PATH, json={"amount": "5", "slow": 0.2}, headers={"Idempotency-Key": "r"})
            for _ in range(8)
        )
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}, statuses
    fresh = [a for a in answers if a.status_code == 201 and "Idempotent-Replayed" not in a.headers]
    assert len(fresh) == 1
    for busy in (a for a in answers if a.status_code == 409):
        assert int(busy.headers["Retry-After"]) >= 1
        assert busy.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await effects(db, tables) == 1


async def test_a_failed_write_is_not_stored_and_may_be_retried(
    client: httpx.AsyncClient, db: Database, tables: Tables
) -> None:
    headers = {"Idempotency-Key": "f"}
    failed = await client.post(PATH, json={"amount": "1", "fail": True}, headers=headers)
    assert failed.status_code == 400
    assert await effects(db, tables) == 0
    # Another body under the key is allowed after a failure: nothing was stored.
    retried = await client.post(PATH, json={"amount": "1"}, headers=headers)
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers


async def test_a_write_refused_for_an_outage_frees_its_key_once_the_database_is_back(
    client: httpx.AsyncClient,
    writes: IdempotentWrites,
    db: Database,
    tables: Tables,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(idempotency, "RELEASE_RETRY_SECONDS", 0.05)
    release = writes._release
    attempts: list[str] = []

    async def release_while_away(scope: str, key: str, claim: str) -> None:
        attempts.append(key)
        if len(attempts) <= 2:  # the database is still away for the first two tries
            raise ConnectionRefusedError(111, "Connect call failed")
        await release(scope, key, claim)

    monkeypatch.setattr(writes, "_release", release_while_away)
    headers = {"Idempotency-Key": "o"}

    refused = await client.post(PATH, json={"amount": "1", "outage": True}, headers=headers)

    assert refused.status_code == 503
    assert int(refused.headers["Retry-After"]) >= 1

    async def released() -> bool:
        async with db.sessions() as session:
            return await session.scalar(select(func.count()).select_from(tables.idempotency)) == 0

    for _ in range(100):
        if await released():
            break
        await asyncio.sleep(0.02)
    assert len(attempts) == 3
    # The retry runs (no 409 for the lease's minute) and takes effect once.
    retried = await client.post(PATH, json={"amount": "1"}, headers=headers)
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert await effects(db, tables) == 1


async def test_a_claim_whose_holder_died_is_taken_over_after_its_lease(
    client: httpx.AsyncClient, writes: IdempotentWrites, db: Database, tables: Tables, clock: Clock
) -> None:
    # A process that claimed the key and died before its effect committed.
    async with db.transaction() as session:
        await session.execute(
            insert(tables.idempotency).values(
                scope=f"POST {PATH}",
                key="d",
                fingerprint="whatever",
                state="in_flight",
                claim="dead",
                locked_until=clock.now + timedelta(seconds=60),
                created_at=clock.now,
                expires_at=clock.now + timedelta(hours=24),
            )
        )
    headers = {"Idempotency-Key": "d"}
    busy = await client.post(PATH, json={"amount": "1"}, headers=headers)
    assert busy.status_code == 422  # another request's claim, still leased
    clock.now += timedelta(seconds=61)
    taken = await client.post(PATH, json={"amount": "1"}, headers=headers)
    assert taken.status_code == 201 and "Idempotent-Replayed" not in taken.headers
    assert await effects(db, tables) == 1


async def test_a_claim_in_flight_answers_409_with_retry_after(
    client: httpx.AsyncClient, db: Database, tables: Tables, clock: Clock
) -> None:
    slow = asyncio.create_task(
        client.post(PATH, json={"amount": "1", "slow": 0.5}, headers={"Idempotency-Key": "s"})
    )
    await asyncio.sleep(0.2)
    busy = await client.post(
        PATH, json={"amount": "1", "slow": 0.5}, headers={"Idempotency-Key": "s"}
    )
    assert busy.status_code == 409
    assert busy.headers["Retry-After"] == "60"
    assert (await slow).status_code == 201


async def test_keys_expire_and_are_purged(
    client: httpx.AsyncClient, writes: IdempotentWrites, db: Database, tables: Tables, clock: Clock
) -> None:
    await client.post(PATH, json={"amount": "1"}, headers={"Idempotency-Key": "e"})
    clock.now += timedelta(hours=24, seconds=1)
    # An expired key is a new request, even with another body.
    again = await client.post(PATH, json={"amount": "2"}, headers={"Idempotency-Key": "e"})
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    clock.now += timedelta(hours=24, seconds=1)
    assert await writes.purge() == 1


async def test_a_key_longer_than_the_limit_is_refused(client: httpx.AsyncClient) -> None:
    refused = await client.post(PATH, json={"amount": "1"}, headers={"Idempotency-Key": "k" * 201})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "Idempotency-Key"
