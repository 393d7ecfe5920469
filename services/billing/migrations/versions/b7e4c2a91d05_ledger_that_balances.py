"""ledger that balances: a webshop sale is a charge and its payment, a refund also takes the
sale back (a credit)

Before, a paid webshop order wrote only its payment (the customer looked in credit by all they
paid) and a refund only the refund. This adds the missing halves to existing ledgers, copying
each entry's amount, currency, order, plan, period and time, so every order's balance is what it
is with the new code. Operator sales stay charges: nobody said they were paid.

Revision ID: b7e4c2a91d05
Revises: 4d63f60b8487
Create Date: 2026-12-01 02:50:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7e4c2a91d05"
down_revision: str | None = "4d63f60b8487"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The amount column is copied as stored (integer ten-thousandths): exact on both databases.
ledger = sa.table(
    "ledger_transaction",
    *(
        sa.column(name)
        for name in (
            "id",
            "customer_id",
            "subscription_id",
            "kind",
            "amount",
            "currency",
            "source",
            "webshop_id",
            "order_id",
            "reference",
            "description",
            "plan_id",
            "period_starts_at",
            "period_ends_at",
            "recorded_at",
        )
    ),
)

# (entry that exists, the half it lacks, the missing half's description)
HALVES = (
    ("payment", "charge", "sale of webshop order {order_id}"),
    ("refund", "credit", "sale of order {order_id} taken back for the refund"),
)
CHUNK = 1000


def _missing(has: str, lacks: str) -> sa.Select[tuple[object, ...]]:
    other = ledger.alias("other")
    half_exists = (
        sa.select(other.c.id)
        .where(
            other.c.webshop_id == ledger.c.webshop_id,
            other.c.order_id == ledger.c.order_id,
            other.c.kind == lacks,
        )
        .exists()
    )
    return sa.select(ledger).where(
        ledger.c.kind == has,
        ledger.c.source == "webshop",
        ledger.c.order_id.is_not(None),
        ~half_exists,
    )


def upgrade() -> None:
    bind = op.get_bind()
    for has, lacks, description in HALVES:
        rows = bind.execute(_missing(has, lacks)).mappings().all()
        for start in range(0, len(rows), CHUNK):
            bind.execute(
                ledger.insert(),
                [
                    {
                        **row,
                        "id": str(uuid.uuid4()),
                        "kind": lacks,
                        "description": description.format(order_id=row["order_id"]),
                    }
                    for row in rows[start : start + CHUNK]
                ],
            )


def downgrade() -> None:
    # The old code wrote neither half: remove every webshop charge beside a payment and every
    # credit beside a refund of the same order.
    other = ledger.alias("other")
    for has, lacks, _ in HALVES:
        beside = (
            sa.select(other.c.id)
            .where(
                other.c.webshop_id == ledger.c.webshop_id,
                other.c.order_id == ledger.c.order_id,
                other.c.kind == has,
            )
            .exists()
        )
        op.execute(
            ledger.delete().where(ledger.c.kind == lacks, ledger.c.source == "webshop", beside)
        )
