"""The outbox, its per-key-bucket leases, the inbox, and the HTTP writes' idempotency records:
the same four tables in every service."""

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

from services.runtime.db import UTCDateTime

# The one limit of an Idempotency-Key, for the services' header, the gateway's and the column.
IDEMPOTENCY_KEY_MAX_LENGTH = 200

# Rows are spread over buckets by a hash of their Kafka key; a relay worker publishes only the
# buckets it holds a lease on, so one customer's events never race between two workers.
OUTBOX_BUCKETS = 16


def define_messaging_tables(metadata: MetaData) -> tuple[Table, Table, Table, Table]:
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
    return outbox, outbox_lease, inbox, define_idempotency_table(metadata)


def define_idempotency_table(metadata: MetaData) -> Table:
    # The HTTP twin of the inbox (services/runtime/idempotency.py): one row per Idempotency-Key
    # of a write, scoped by the request's method and path, holding its answer once done.
    return Table(
        "idempotency_record",
        metadata,
        Column("scope", String(500), primary_key=True),
        Column("key", String(IDEMPOTENCY_KEY_MAX_LENGTH), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("state", String(16), nullable=False),
        Column("claim", String(32), nullable=False),
        Column("locked_until", UTCDateTime(), nullable=False),
        Column("status_code", Integer, nullable=True),
        Column("body", Text, nullable=True),
        Column("headers", Text, nullable=True),
        Column("customer_id", String(64), nullable=True, index=True),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("expires_at", UTCDateTime(), nullable=False, index=True),
    )
