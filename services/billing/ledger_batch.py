"""A batch's ledger entries, written by one multi-row INSERT: a month end's renewals cost rows of
one statement, not an ORM object each in the session's flush (its unit of work was a quarter of
billing's CPU per renewal)."""

from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.models import LedgerTransaction

LEDGER = cast(Table, LedgerTransaction.__table__)
COLUMNS = tuple(c.key for c in LEDGER.columns)


class LedgerBatch:
    """Entries made by `ledger_entry` (transient objects, never added to the session), kept
    until `flush`. Flush before anything reads the ledger within the batch (the trial check)
    and before the batch ends."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, entry: LedgerTransaction) -> None:
        self.rows.append({column: getattr(entry, column) for column in COLUMNS})

    async def flush(self, session: AsyncSession) -> None:
        if self.rows:
            await session.execute(insert(LEDGER), self.rows)
            self.rows = []
