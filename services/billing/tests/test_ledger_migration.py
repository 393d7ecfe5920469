"""Migration b7e4c2a91d05 gives existing ledgers the halves the old code did not write: a
webshop payment its charge, a refund its credit; operator charges stay owed."""

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select

from services.billing import service
from services.billing.models import LedgerTransaction
from services.billing.tests._setup import NOW
from services.runtime.db import Database
from services.runtime.migrations import alembic_config
from services.runtime.tests._helpers import BACKENDS

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
BEFORE = "4d63f60b8487"


def _entry(customer: str, kind: str, amount: str, order_id: str, source: str) -> LedgerTransaction:
    return LedgerTransaction(
        id=str(uuid.uuid4()),
        customer_id=customer,
        subscription_id=None,
        kind=kind,
        amount=Decimal(amount),
        currency="EUR",
        source=source,
        webshop_id="shop-eu",
        order_id=order_id,
        reference="ref",
        description=f"old {kind}",
        plan_id="basic-1m",
        period_starts_at=NOW,
        period_ends_at=NOW + timedelta(days=30),
        recorded_at=NOW,
    )


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, new_postgres_database: Callable[[str], str]
) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'billing.db'}"
    return new_postgres_database("billing_ledger_migration")


async def test_old_ledgers_balance_after_the_migration(database_url: str) -> None:
    config = alembic_config(MIGRATIONS, database_url)
    await asyncio.to_thread(command.upgrade, config, BEFORE)
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            session.add_all(
                [
                    # A paid webshop order, later refunded in part.
                    _entry("webshop-buyer", "payment", "9.99", "order-1", "webshop"),
                    _entry("webshop-buyer", "refund", "4.00", "order-1", "webshop"),
                    # An operator's sale: nobody said it was paid, it stays owed.
                    _entry("operator-sold", "charge", "19.99", "op-renew-1", "operator"),
                ]
            )
        async with db.sessions() as session:
            assert await service.balance(session, "webshop-buyer") == {"EUR": Decimal("-5.99")}

        await asyncio.to_thread(command.upgrade, config, "head")
        await asyncio.to_thread(command.upgrade, config, "head")  # at head: nothing again

        async with db.sessions() as session:
            assert await service.balance(session, "webshop-buyer") == {"EUR": Decimal("0.00")}
            assert await service.balance(session, "operator-sold") == {"EUR": Decimal("19.99")}
            halves = LedgerTransaction.kind.in_(("charge", "credit"))
            added = (await session.scalars(select(LedgerTransaction).where(halves))).all()
        by_kind = {(e.customer_id, e.kind): e for e in added}
        charge = by_kind[("webshop-buyer", "charge")]
        assert (charge.amount, charge.order_id, charge.recorded_at, charge.period_ends_at) == (
            Decimal("9.99"),
            "order-1",
            NOW,
            NOW + timedelta(days=30),
        )
        assert by_kind[("webshop-buyer", "credit")].amount == Decimal("4.00")
        assert len(added) == 3

        await asyncio.to_thread(command.downgrade, config, BEFORE)
        async with db.sessions() as session:
            assert await service.balance(session, "webshop-buyer") == {"EUR": Decimal("-5.99")}
    finally:
        await db.dispose()
