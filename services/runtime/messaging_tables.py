"""The outbox, its per-key-bucket leases, and the inbox: the same three tables in every service."""

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

from services.runtime.db import UTCDateTime

# Rows are spread over buckets by a hash of their Kafka key; a relay worker publishes only the
# buckets it holds a lease on, so one customer's events never race between two workers.
OUTBOX_BUCKETS = 16


def define_messaging_tables(metadata: MetaData) -> tuple[Table, Table, Table]:
    outbox = Table(
        "outbox",
        metadata,
        Column(
            "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        Column("event_id", String(64), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("bucket", Integer, nullable=False),
        Column("payload", Text, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        Index("ix_outbox_bucket_id", "bucket", "id"),
    )
    outbox_lease = Table(
        "outbox_lease",
        metadata,
        Column("bucket", Integer, primary_key=True, autoincrement=False),
        Column("owner", String(100), nullable=True),
        Column("expires_at", UTCDateTime(), nullable=True),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("event_id", String(500), primary_key=True),
        Column("topic", String(200), nullable=False),
        Column("processed_at", UTCDateTime(), nullable=False),
    )
    return outbox, outbox_lease, inbox
