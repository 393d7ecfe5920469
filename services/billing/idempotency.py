"""Idempotency-Key for billing's HTTP writes: the first answer is stored with a hash of the
request, in the same transaction as the write; a retry with the same key and body gets that
answer again without a second effect, the same key with another body is refused."""

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.models import IdempotentRequest
from services.runtime.db import Database, utcnow
from services.runtime.problems import Problem

M = TypeVar("M", bound=BaseModel)


def request_hash(action: str, body: Any) -> str:
    canonical = json.dumps({"action": action, "body": body}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(stored: IdempotentRequest, digest: str, model: type[M]) -> M:
    if stored.request_hash != digest:
        raise Problem(
            422,
            "Idempotency-Key reused",
            f"the key {stored.key!r} was used for a different request ({stored.action}); "
            "use a new key for a new request",
            extra={"errors": [{"field": "Idempotency-Key", "message": "used for another body"}]},
        )
    return model.model_validate_json(stored.response)


async def run_once(
    db: Database,
    *,
    customer_id: str,
    key: str | None,
    action: str,
    body: Any,
    model: type[M],
    write: Callable[[AsyncSession], Awaitable[M]],
) -> M:
    """Run `write` in one transaction, once per (customer, key)."""
    if key is None:
        async with db.transaction() as session:
            return await write(session)
    digest = request_hash(action, body)
    for attempt in range(2):
        try:
            async with db.transaction() as session:
                stored = await session.get(IdempotentRequest, (customer_id, key))
                if stored is not None:
                    return _replay(stored, digest, model)
                result = await write(session)
                session.add(
                    IdempotentRequest(
                        customer_id=customer_id,
                        key=key,
                        action=action,
                        request_hash=digest,
                        status_code=200,
                        response=result.model_dump_json(),
                        created_at=utcnow(),
                    )
                )
            return result
        except IntegrityError:
            # A concurrent request with the same key committed first: answer as it did.
            if attempt:
                raise
    raise AssertionError("unreachable")
