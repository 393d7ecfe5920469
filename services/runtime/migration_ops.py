"""Alembic operations that several services' migrations run alike, written once.

Each is frozen under a versioned name: a migration is a snapshot of the schema at its revision,
so a later change to a shared table gets a new function (`..._v2`) and a new revision, never an
edit of one that migrations already call.
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db import UTCDateTime


def create_idempotency_record_v1() -> None:
    """The `idempotency_record` table of services/runtime/idempotency.py, as first shipped."""
    op.create_table(
        "idempotency_record",
        sa.Column("scope", sa.String(length=500), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("claim", sa.String(length=32), nullable=False),
        sa.Column("locked_until", UTCDateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("headers", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key"),
    )
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_record_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_idempotency_record_expires_at"), ["expires_at"], unique=False
        )


def drop_idempotency_record_v1() -> None:
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_record_expires_at"))
        batch_op.drop_index(batch_op.f("ix_idempotency_record_customer_id"))
    op.drop_table("idempotency_record")
