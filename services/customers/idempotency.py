"""Idempotency-Key of the record edits (info, account, password): a retried request must not
redo its write, nor undo a later one (disable, enable, then the disable retried)."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.customers.models import IdempotentRequest
from services.runtime.db import utcnow


async def seen_before(
    session: AsyncSession, operation: str, customer_id: str, key: str | None
) -> bool:
    """Whether this key was used for this operation on this customer; records it otherwise,
    in the same transaction as the write it guards."""
    if not key:
        return False
    scoped = f"{operation}:{customer_id}:{key}"
    if await session.get(IdempotentRequest, scoped) is not None:
        return True
    session.add(IdempotentRequest(key=scoped, customer_id=customer_id, created_at=utcnow()))
    return False
