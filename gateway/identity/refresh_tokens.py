"""Refresh tokens: issued at sign-in, exchanged once for a new pair, revoked at logout.

Only the SHA-256 of a token is stored (it carries 256 random bits, so a fast hash is enough and
lets it be looked up). A token is good for one exchange: the exchange marks it used and hands
out its successor in the same family. A used token shown again means someone kept a copy, so the
whole family is revoked and both holders have to sign in again.
"""

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.security import hash_api_key
from gateway.models import RefreshToken

REFRESH_TOKEN_PREFIX = "tvcmr"


@dataclass(frozen=True)
class IssuedRefreshToken:
    token: str
    expires_at: datetime


def _hash(token: str) -> str:
    return hash_api_key(token)


async def issue(
    session: AsyncSession,
    *,
    operator_id: str,
    now: datetime,
    lifetime: timedelta,
    family_id: str | None = None,
) -> IssuedRefreshToken:
    """A new refresh token for the operator; a new family unless continuing one."""
    token = f"{REFRESH_TOKEN_PREFIX}_{secrets.token_urlsafe(32)}"
    row = RefreshToken(
        id=str(uuid.uuid4()),
        family_id=family_id or str(uuid.uuid4()),
        operator_id=operator_id,
        hash=_hash(token),
        created_at=now,
        expires_at=now + lifetime,
        used_at=None,
        revoked_at=None,
    )
    session.add(row)
    await session.flush()
    return IssuedRefreshToken(token=token, expires_at=row.expires_at)


@dataclass(frozen=True)
class Exchanged:
    operator_id: str
    successor: IssuedRefreshToken


@dataclass(frozen=True)
class Refused:
    """The token is unknown, expired, revoked, or was already used (its family now revoked).

    Returned, not raised: the revocation of a reused token's family must be committed.
    """

    reason: str


async def exchange(
    session: AsyncSession, token: str, *, now: datetime, lifetime: timedelta
) -> Exchanged | Refused:
    """The operator id and the token's successor; the token itself is spent.

    The row is locked (on PostgreSQL) so that two concurrent exchanges of one token cannot both
    succeed: the second sees it used and revokes the family.
    """
    row = await session.scalar(
        select(RefreshToken).where(RefreshToken.hash == _hash(token)).with_for_update()
    )
    if row is None:
        return Refused("unknown refresh token")
    if row.revoked_at is not None:
        return Refused("the refresh token was revoked; sign in again")
    if row.used_at is not None:
        await revoke_family(session, row.family_id, now=now)
        return Refused("the refresh token was already used; sign in again")
    if row.expires_at <= now:
        return Refused("the refresh token expired; sign in again")
    row.used_at = now
    successor = await issue(
        session, operator_id=row.operator_id, now=now, lifetime=lifetime, family_id=row.family_id
    )
    return Exchanged(row.operator_id, successor)


async def revoke_family(session: AsyncSession, family_id: str, *, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke(session: AsyncSession, token: str, *, now: datetime) -> bool:
    """Revokes the token's whole family (the sign-in it came from); False if it is unknown."""
    family_id = await session.scalar(
        select(RefreshToken.family_id).where(RefreshToken.hash == _hash(token))
    )
    if family_id is None:
        return False
    await revoke_family(session, family_id, now=now)
    return True
