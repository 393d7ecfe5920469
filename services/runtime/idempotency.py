"""Idempotency-Key on HTTP writes, the HTTP twin of the inbox: a write sent again with the same
key has its effect once, and the retry gets the first answer back.

How one keyed request goes (IETF draft "The Idempotency-Key HTTP Header Field"):
1. Claim: insert a row (scope, key) in state `in_flight`, committed on its own. The primary key
   makes two racing requests' inserts conflict on SQLite and PostgreSQL alike; the loser reads
   the row: the same request still in flight is 409 with Retry-After, a finished one is its
   stored answer with `Idempotent-Replayed: true`, another request under the key is 422.
2. Effect: the write runs in one transaction that also marks the claim `done` with the answer,
   so the effect and the stored answer commit together or not at all.
3. A write that fails (a problem, an error, a cancelled request) deletes its claim: it had no
   effect, so the retry runs it afresh. Failures are not stored. When the database itself is
   away, the claim is deleted as soon as it is back (docs/faults.md).

Why the claim commits before the effect rather than inside its transaction: an uncommitted
claim is invisible, so a racing request would block on the row lock (PostgreSQL) or the write
lock (SQLite) for the whole effect instead of being told "in flight". A process that dies after
the claim leaves it `in_flight`; the claim carries a lease (`locked_until`), after which the
next request with the key takes it over, so a crash never blocks a key for longer than the
lease. The claimant marks `done` only while it still holds its claim token, so a write that
outlived its lease is rolled back rather than stored twice.

Scope: the method and path of the request (`POST /customers/c-1/subscription/renew`), so two
customers' or two routes' keys never collide; the fingerprint adds the query and the canonical
JSON body. Services trust only the gateway, which forwards the client's key unchanged.

Records expire `idempotency_ttl_seconds` after they are made (24 h by default); a claim purges
expired rows at most once per `PURGE_INTERVAL` per process.
"""

import asyncio
import hashlib
import json
import logging
import math
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.encoders import jsonable_encoder
from sqlalchemy import Table, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.db import Database, utcnow
from services.runtime.messaging_tables import IDEMPOTENCY_KEY_MAX_LENGTH
from services.runtime.problems import Problem
from services.runtime.transient import is_transient

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
IN_FLIGHT = "in_flight"
DONE = "done"
PURGE_INTERVAL = timedelta(minutes=10)
RELEASE_RETRY_SECONDS = 1.0

# The one declaration of the header, for the services' writes and the gateway's.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=IDEMPOTENCY_KEY_MAX_LENGTH,
        description="A unique key per intended write (a UUID): a retry with the same key and "
        "the same request gets the first answer (`Idempotent-Replayed: true`) without a second "
        "effect; the same key with another request is 422; while the first is still running, "
        "409 with Retry-After.",
    ),
]


@dataclass(frozen=True)
class Answer:
    """What a write answers: a status and a JSON-able body (None for no content).

    `stored_body` replaces the body in the stored answer when the live one holds a secret
    shown once (a generated password); `customer_id` (by default the path's) lets erasure
    find the stored answer."""

    body: Any
    status_code: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    customer_id: str | None = None
    stored_body: Any = None


def _json(body: Any) -> str | None:
    return None if body is None else json.dumps(jsonable_encoder(body), separators=(",", ":"))


def _response(status_code: int, body: str | None, headers: Mapping[str, str]) -> Response:
    if body is None:
        return Response(status_code=status_code, headers=dict(headers))
    return Response(
        body, status_code=status_code, headers=dict(headers), media_type="application/json"
    )


async def fingerprint(request: Request) -> str:
    """The method, path, query and body; a JSON body in canonical form (sorted keys)."""
    raw = await request.body()
    try:
        body: Any = json.loads(raw) if raw else None
    except ValueError:
        body = raw.hex()
    query = sorted(request.query_params.multi_items())
    canonical = json.dumps(
        [request.method, request.url.path, query, body], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _reused() -> Problem:
    return Problem(
        422,
        "Idempotency-Key reused",
        "this Idempotency-Key was used for a different request; use a new key for a new request",
        extra={"errors": [{"field": HEADER, "message": "used for a different request"}]},
    )


def _in_flight(retry_after: int) -> Problem:
    return Problem(
        409,
        "Request in progress",
        "a request with this Idempotency-Key is still being processed; retry later",
        extra={
            "errors": [{"field": HEADER, "message": "a request with this key is in progress"}],
            "retry_after": retry_after,
        },
        headers={"Retry-After": str(retry_after)},
    )


class IdempotentWrites:
    """Runs a service's HTTP writes once per Idempotency-Key, on its `idempotency_record`."""

    def __init__(
        self,
        db: Database,
        table: Table,
        *,
        ttl: timedelta,
        lease: timedelta,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.table = table
        self.ttl = ttl
        self.lease = lease
        self.clock = clock
        self._purged_at: datetime | None = None
        self._releasing: set[asyncio.Task[None]] = set()

    async def run(
        self,
        request: Request,
        key: str | None,
        work: Callable[[AsyncSession], Awaitable[Answer]],
    ) -> Response:
        """Run `work` in one transaction and answer with its `Answer`, once per key."""
        if key is None:
            async with self.db.transaction() as session:
                answer = await work(session)
            return _response(answer.status_code, _json(answer.body), answer.headers)
        scope = f"{request.method} {request.url.path}"
        claimed = await self._claim(scope, key, await fingerprint(request))
        if isinstance(claimed, Response):
            return claimed
        try:
            async with self.db.transaction() as session:
                answer = await work(session)
                stored = answer.stored_body if answer.stored_body is not None else answer.body
                marked = await session.execute(
                    update(self.table)
                    .where(self._row(scope, key), self.table.c.claim == claimed)
                    .values(
                        state=DONE,
                        status_code=answer.status_code,
                        body=_json(stored),
                        headers=json.dumps(dict(answer.headers)),
                        customer_id=answer.customer_id or request.path_params.get("customer_id"),
                    )
                )
                if marked.rowcount != 1:  # type: ignore[attr-defined]
                    # The lease ran out and another request took the key over: roll back.
                    raise _in_flight(math.ceil(self.lease.total_seconds()))
        except BaseException:
            await self._release_soon(scope, key, claimed)
            raise
        return _response(answer.status_code, _json(answer.body), answer.headers)

    def _row(self, scope: str, key: str) -> Any:
        return and_(self.table.c.scope == scope, self.table.c.key == key)

    async def _claim(self, scope: str, key: str, print_: str) -> str | Response:
        """A claim token, or the answer to give instead (a replay); raises 409 or 422."""
        await self._purge_now_and_then()
        for _ in range(3):
            now = self.clock()
            claim = secrets.token_hex(16)
            fresh = {
                "fingerprint": print_,
                "state": IN_FLIGHT,
                "claim": claim,
                "locked_until": now + self.lease,
                "status_code": None,
                "body": None,
                "headers": None,
                "customer_id": None,
                "created_at": now,
                "expires_at": now + self.ttl,
            }
            try:
                # The insert is the transaction's first statement: on SQLite it waits for the
                # write lock (busy_timeout) instead of failing on a stale read snapshot.
                async with self.db.transaction() as session:
                    await session.execute(insert(self.table).values(scope=scope, key=key, **fresh))
                return claim
            except IntegrityError:
                pass
            async with self.db.sessions() as session:
                row = (
                    await session.execute(select(self.table).where(self._row(scope, key)))
                ).one_or_none()
            if row is None:
                continue  # released or purged since the insert: try again
            alive = row.expires_at > now and (row.state == DONE or row.locked_until > now)
            if alive and row.fingerprint != print_:
                raise _reused()
            if alive and row.state == DONE:
                headers = {**json.loads(row.headers or "{}"), REPLAYED_HEADER: "true"}
                return _response(row.status_code, row.body, headers)
            if alive:
                raise _in_flight(max(1, math.ceil((row.locked_until - now).total_seconds())))
            # Expired, or a claim whose holder died (it had no effect, so whatever request
            # comes now may run): take it over, if nobody else did first.
            async with self.db.transaction() as session:
                taken = await session.execute(
                    update(self.table)
                    .where(
                        self._row(scope, key),
                        or_(
                            self.table.c.expires_at <= now,
                            and_(
                                self.table.c.state == IN_FLIGHT,
                                self.table.c.locked_until <= now,
                            ),
                        ),
                    )
                    .values(**fresh)
                )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return claim
        raise _in_flight(1)

    async def _release_soon(self, scope: str, key: str, claim: str) -> None:
        """Release the claim now, or, while the database is away, as soon as it is back: else
        a write refused for the outage would keep its key "in flight" (409) for the whole
        lease after the database returned, and the client's retry with it would wait."""
        try:
            await self._release(scope, key, claim)
        except Exception as error:
            if not is_transient(error):
                raise
            task = asyncio.create_task(self._release_when_back(scope, key, claim))
            self._releasing.add(task)
            task.add_done_callback(self._releasing.discard)

    async def _release_when_back(self, scope: str, key: str, claim: str) -> None:
        deadline = asyncio.get_running_loop().time() + self.lease.total_seconds()
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(RELEASE_RETRY_SECONDS)
            try:
                await self._release(scope, key, claim)
                return
            except Exception as error:
                if not is_transient(error):
                    log.exception("could not release Idempotency-Key claim %s %s", scope, key)
                    return
        # The lease has run out: the next request with the key takes the claim over anyway.

    async def _release(self, scope: str, key: str, claim: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                delete(self.table).where(
                    self._row(scope, key),
                    self.table.c.claim == claim,
                    self.table.c.state == IN_FLIGHT,
                )
            )

    async def _purge_now_and_then(self) -> None:
        now = self.clock()
        if self._purged_at is not None and now - self._purged_at < PURGE_INTERVAL:
            return
        self._purged_at = now
        await self.purge()

    async def purge(self) -> int:
        """Delete the expired records; returns how many."""
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(self.table).where(self.table.c.expires_at <= self.clock())
            )
        return int(result.rowcount)  # type: ignore[attr-defined]


async def _writes(request: Request) -> IdempotentWrites:
    # Set by the service's create_app, and by the gateway for its own database.
    writes: IdempotentWrites = request.app.state.idempotency
    return writes


@dataclass(frozen=True)
class WriteOnce:
    """A route's handle on its request's Idempotency-Key: `await once(work)`."""

    writes: IdempotentWrites
    request: Request
    key: str | None

    async def __call__(self, work: Callable[[AsyncSession], Awaitable[Answer]]) -> Response:
        return await self.writes.run(self.request, self.key, work)


async def write_once(
    request: Request,
    writes: Annotated[IdempotentWrites, Depends(_writes)],
    idempotency_key: IdempotencyKey = None,
) -> WriteOnce:
    return WriteOnce(writes, request, idempotency_key)


# Every write route of every service takes this: it declares the header and runs the write.
WriteOnceDep = Annotated[WriteOnce, Depends(write_once)]


async def forget_customer(session: AsyncSession, table: Table, customer_id: str) -> None:
    """Erasure: the stored answers about a customer go with their personal data."""
    await session.execute(delete(table).where(table.c.customer_id == customer_id))
