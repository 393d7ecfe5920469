"""operator session version; usernames unique ignoring case

Revision ID: 7d2e4f1a9b3c
Revises: 59657c87a872
Create Date: 2026-12-01 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7d2e4f1a9b3c"
down_revision: str | None = "59657c87a872"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("operator") as batch:
        batch.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
        )
    clashes = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT lower(username) FROM operator GROUP BY lower(username) HAVING count(*) > 1"
            )
        )
        .scalars()
        .all()
    )
    if clashes:
        # Renaming someone's sign-in behind their back would be worse than stopping here.
        raise RuntimeError(
            "operators whose usernames differ only in case must be renamed first: "
            + ", ".join(sorted(clashes))
        )
    op.create_index(
        "ux_operator_username_lower", "operator", [sa.text("lower(username)")], unique=True
    )


def downgrade() -> None:
    op.drop_index("ux_operator_username_lower", table_name="operator")
    with op.batch_alter_table("operator") as batch:
        batch.drop_column("session_version")
