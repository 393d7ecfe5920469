"""Idempotency-Key on the service's HTTP writes: the first answer is stored with the change, in
the same transaction, and a retry with the same key gets it back instead of a second change.

A retry is answered 200 with `Idempotent-Replayed: true` (as the customers service answers a
repeated sale). The same key on a different request is refused (422), since it would be a bug
on the caller's side to reuse it; a retry racing the first request sees the first one's answer.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.db import Database, utcnow
from services.runtime.problems import Problem
from services.tickets.models import IdempotentRequest

REPLAYED_HEADER = "Idempotent-Replayed"


def fingerprint(method: str, path: str, payload: BaseModel | None) -> str:
    body = payload.model_dump(mode="json") if payload is not None else None
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(earlier: IdempotentRequest, request_fingerprint: str) -> JSONResponse:
    if earlier.fingerprint != request_fingerprint:
        raise Problem(
            422,
            "Idempotency-Key reused",
            "this Idempotency-Key was used for a different request",
            extra={"errors": [{"field": "Idempotency-Key", "message": "used for another request"}]},
        )
    return JSONResponse(
        json.loads(earlier.response), status_code=200, headers={REPLAYED_HEADER: "true"}
    )


async def run_once(
    db: Database,
    *,
    key: str | None,
    request_fingerprint: str,
    customer_id: str | None,
    status_code: int,
    work: Callable[[AsyncSession], Awaitable[BaseModel]],
) -> JSONResponse:
    """Run `work` in one transaction and answer with its result, once per `key`."""
    answer: Any = None
    try:
        async with db.transaction() as session:
            if key:
                earlier = await session.get(IdempotentRequest, key)
                if earlier is not None:
                    return _replay(earlier, request_fingerprint)
            result = await work(session)
            answer = result.model_dump(mode="json")
            if key:
                session.add(
                    IdempotentRequest(
                        key=key,
                        fingerprint=request_fingerprint,
                        customer_id=customer_id,
                        status_code=status_code,
                        response=json.dumps(answer),
                        created_at=utcnow(),
                    )
                )
    except IntegrityError:
        if not key:
            raise
        # The same key committed first from a concurrent retry: answer as it did.
        async with db.sessions() as session:
            earlier = await session.get(IdempotentRequest, key)
        if earlier is None:
            raise
        return _replay(earlier, request_fingerprint)
    return JSONResponse(answer, status_code=status_code)
