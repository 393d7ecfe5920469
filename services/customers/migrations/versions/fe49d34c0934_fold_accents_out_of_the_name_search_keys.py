"""fold accents out of the name search keys

The name sort and the name search now ignore accents as well as case: search_name and
search_full_name hold name_keys.fold of the names ("Émile Öztürk" -> "emile ozturk") instead of
their lower-cased copies. No column or index changes; the keys of existing rows are recomputed.

Why in Python and in batches: the fold (NFKD, dropping combining marks, casefold, mapping
letters such as "ł" or "ø" that have no decomposition) is name_keys.fold, the one function the
service, the seed command and the list query use, and neither SQLite nor a plain PostgreSQL can
compute the same thing in SQL. Reading a million customers at once would hold them all in the
migrating process's memory and send one update with a million parameter sets; batches of BATCH
rows in id order (a keyset walk of the primary key, each batch an index range however far the
walk has got) keep memory and each statement bounded. The whole still runs in the migration's
one transaction (services/runtime/migrations.py holds its lock for the duration), so an
interrupted run leaves the old keys and can simply be run again. Only rows whose key changes are
written: names without accents or capitals cost a read, not a new row version.

Revision ID: fe49d34c0934
Revises: 9c940c01ff8a
Create Date: 2026-11-28 23:45:19.584628
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from services.customers.name_keys import name_keys

revision: str = "fe49d34c0934"
down_revision: str | None = "9c940c01ff8a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000

_customer = sa.table(
    "customer",
    sa.column("id", sa.String),
    sa.column("first_name", sa.String),
    sa.column("last_name", sa.String),
    sa.column("search_name", sa.String),
    sa.column("search_full_name", sa.String),
)


def _recompute(keys: Callable[[str, str], tuple[str, str]]) -> None:
    bind = op.get_bind()
    update = (
        sa.update(_customer)
        .where(_customer.c.id == sa.bindparam("row_id"))
        .values(
            search_name=sa.bindparam("new_name"), search_full_name=sa.bindparam("new_full_name")
        )
    )
    last_id = ""
    while True:
        rows = bind.execute(
            sa.select(
                _customer.c.id,
                _customer.c.first_name,
                _customer.c.last_name,
                _customer.c.search_name,
                _customer.c.search_full_name,
            )
            .where(_customer.c.id > last_id)
            .order_by(_customer.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        changed = []
        for row in rows:
            new_name, new_full_name = keys(row.first_name, row.last_name)
            if (new_name, new_full_name) != (row.search_name, row.search_full_name):
                changed.append(
                    {"row_id": row.id, "new_name": new_name, "new_full_name": new_full_name}
                )
        if changed:
            bind.execute(update, changed)
        last_id = rows[-1].id


def _lowered(first_name: str, last_name: str) -> tuple[str, str]:
    # The keys as the previous revision wrote them.
    return f"{last_name} {first_name}".lower(), f"{first_name} {last_name}".lower()


def upgrade() -> None:
    _recompute(name_keys)


def downgrade() -> None:
    _recompute(_lowered)
