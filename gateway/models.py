"""Tables of the gateway: operators, API keys and the audit log of operator actions."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, MetaData, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.runtime.db import UTCDateTime
from services.runtime.messaging_tables import define_idempotency_table


class Base(DeclarativeBase):
    metadata = MetaData()


metadata = Base.metadata
# Idempotency-Key answers of the gateway's own writes (operators, API keys).
idempotency_record = define_idempotency_table(metadata)


class Operator(Base):
    """A person who signs in to the console or the API with a username and password."""

    __tablename__ = "operator"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Carried in every access token; a new password, disabling or enabling the operator moves it
    # on, which ends every token issued before (not only the refresh tokens).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


# Usernames are unique ignoring case; they are ASCII (the API's pattern), so lower() folds them
# alike on SQLite and PostgreSQL.
Index("ux_operator_username_lower", func.lower(Operator.username), unique=True)


class ApiKey(Base):
    """A machine's credential; only the SHA-256 of the key is kept, the key is shown once."""

    __tablename__ = "api_key"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # The key's visible start ("tvcm_1a2b3c4d"), to tell keys apart without the secret.
    prefix: Mapped[str] = mapped_column(String(32))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    """One write through the gateway: who, what, when, and the record before and after.

    An entry is written before the write is attempted (status_code null) and completed after,
    so a write never happens without a trace even if the gateway dies in between.
    """

    __tablename__ = "audit_entry"

    # An increasing integer: the list's keyset cursor and its newest-first order in one column.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    actor_kind: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[Any | None] = mapped_column(JSON)
    after: Mapped[Any | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_audit_entry_customer", "customer_id", "id"),
        Index("ix_audit_entry_actor", "actor", "id"),
    )


class RefreshToken(Base):
    """A refresh token, kept as its SHA-256 only; each use replaces it with a new one.

    Tokens handed out one after another from one sign-in share a `family_id`: presenting a
    token that was already used means it was copied, so the whole family is revoked.
    """

    __tablename__ = "refresh_token"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    operator_id: Mapped[str] = mapped_column(String(36), index=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginFailure(Base):
    """One failed sign-in, counted per username and per client address for the rate limit.

    In the database rather than in memory so that every gateway replica counts the same
    failures; rows older than the window are pruned as new ones come.
    """

    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    # "username" or "address": what `value` is.
    scope: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_login_failure_scope_value_at", "scope", "value", "at"),)
