"""The audit log: every write through the gateway records who, what, when, before and after.

`AuditTrail.record` wraps a write. It commits an entry before the write is attempted, so no
write happens untraced (if the audit database is down, the write is refused), and completes it
afterwards with the status and the record after the change.
"""

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException

from gateway.deps import DatabaseDep
from gateway.identity.auth import CurrentPrincipal, Principal
from gateway.models import AuditEntry
from gateway.schemas.audit import AuditEntryPublic
from gateway.schemas.common import Page
from services.runtime.db import Database, utcnow
from services.runtime.paging import Keyset
from services.runtime.problems import Problem

log = logging.getLogger(__name__)

# Never stored, whatever record they appear in: a one-time password, an API key, a hash.
SECRET_FIELDS = frozenset({"password", "password_hash", "key", "hash", "secret", "access_token"})


def scrub(value: Any) -> Any:
    """`value` with every secret field removed, at any depth."""
    if isinstance(value, Mapping):
        return {k: scrub(v) for k, v in value.items() if str(k).lower() not in SECRET_FIELDS}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


@dataclass
class AuditDraft:
    """What a write fills in as it goes; the trail stores it when the write is over."""

    customer_id: str | None = None
    before: Any = None
    after: Any = None
    status_code: int = 200


class AuditTrail:
    """The audit log as seen by one request: its caller, method and path."""

    def __init__(self, db: Database, principal: Principal, method: str, path: str) -> None:
        self.db = db
        self.principal = principal
        self.method = method
        self.path = path

    @asynccontextmanager
    async def record(
        self, action: str, *, customer_id: str | None = None, before: Any = None
    ) -> AsyncIterator[AuditDraft]:
        draft = AuditDraft(customer_id=customer_id, before=before)
        async with self.db.transaction() as session:
            entry = AuditEntry(
                at=utcnow(),
                actor=self.principal.name,
                actor_kind=self.principal.kind,
                action=action,
                method=self.method,
                path=self.path[:500],
                customer_id=customer_id,
                status_code=None,
                before=scrub(before),
                after=None,
            )
            session.add(entry)
            await session.flush()
            entry_id = entry.id
        status: int | None = None
        try:
            yield draft
            status = draft.status_code
        except Problem as problem:
            status = problem.status
            raise
        except HTTPException as error:
            status = error.status_code
            raise
        except Exception:
            status = 500
            raise
        finally:
            # A cancelled request leaves status None: the entry stays open, honestly "cut off".
            if status is not None:
                await self._complete(entry_id, status, draft)

    async def _complete(self, entry_id: int, status: int, draft: AuditDraft) -> None:
        try:
            async with self.db.transaction() as session:
                await session.execute(
                    update(AuditEntry)
                    .where(AuditEntry.id == entry_id)
                    .values(
                        status_code=status,
                        customer_id=draft.customer_id,
                        before=scrub(draft.before),
                        after=scrub(draft.after),
                    )
                )
        except Exception:
            # The write itself is done and its answer may carry a one-time password: failing
            # the request now would lose it. The open entry still shows the attempt.
            log.exception("could not complete audit entry %d", entry_id)


def get_audit_trail(request: Request, db: DatabaseDep, principal: CurrentPrincipal) -> AuditTrail:
    return AuditTrail(db, principal, request.method, request.url.path)


AuditDep = Annotated[AuditTrail, Depends(get_audit_trail)]


# The entry's id alone: ids only grow, so newest first is id descending.
ENTRIES = Keyset("gateway.audit", tuple[int])


async def list_entries(
    session: AsyncSession,
    *,
    customer_id: str | None = None,
    actor: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[AuditEntryPublic]:
    """Newest first, keyset-paged on the increasing id (indexed with customer and actor)."""
    query = select(AuditEntry)
    if customer_id is not None:
        query = query.where(AuditEntry.customer_id == customer_id)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if cursor:
        query = query.where(ENTRIES.where(cursor, (AuditEntry.id,), descending=True))
    rows = list(await session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit + 1)))
    rows, next_cursor = ENTRIES.cut(rows, limit, lambda row: (row.id,))
    items = [
        AuditEntryPublic(
            id=row.id,
            at=row.at,
            actor=row.actor,
            actor_kind=row.actor_kind,
            action=row.action,
            method=row.method,
            path=row.path,
            customer_id=row.customer_id,
            status_code=row.status_code,
            before=row.before,
            after=row.after,
        )
        for row in rows
    ]
    return Page[AuditEntryPublic](items=items, next_cursor=next_cursor)
