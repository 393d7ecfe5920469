"""Operators and API keys: creating them, listing them, and checking their credentials."""

import asyncio
import uuid

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity import security
from gateway.identity.permissions import Role
from gateway.models import ApiKey, Operator, RefreshToken
from gateway.schemas.accounts import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    OperatorCreate,
    OperatorPublic,
    OperatorUpdate,
)
from services.runtime.db import utcnow
from services.runtime.problems import Problem, field_error


def operator_public(operator: Operator) -> OperatorPublic:
    return OperatorPublic(
        id=operator.id,
        username=operator.username,
        role=Role(operator.role),
        disabled=operator.disabled,
        created_at=operator.created_at,
    )


def api_key_public(api_key: ApiKey) -> ApiKeyPublic:
    return ApiKeyPublic(
        id=api_key.id,
        name=api_key.name,
        prefix=api_key.prefix,
        role=Role(api_key.role),
        created_at=api_key.created_at,
        revoked_at=api_key.revoked_at,
    )


async def authenticate(session: AsyncSession, *, username: str, password: str) -> Operator | None:
    """The enabled operator with these credentials, or None."""
    operator = await session.scalar(
        select(Operator).where(func.lower(Operator.username) == username.lower())
    )
    if operator is None:
        await asyncio.to_thread(security.burn_verification_time, password)
        return None
    valid = await asyncio.to_thread(security.verify_password, operator.password_hash, password)
    if not valid or operator.disabled:
        return None
    return operator


async def active_operator(session: AsyncSession, operator_id: str) -> Operator | None:
    operator = await session.get(Operator, operator_id)
    return None if operator is None or operator.disabled else operator


async def active_api_key(session: AsyncSession, key: str) -> ApiKey | None:
    api_key = await session.scalar(select(ApiKey).where(ApiKey.hash == security.hash_api_key(key)))
    return None if api_key is None or api_key.revoked_at is not None else api_key


async def any_operator_exists(session: AsyncSession) -> bool:
    return (await session.scalar(select(Operator.id).limit(1))) is not None


async def create_operator(
    session: AsyncSession, *, username: str, password: str, role: Role
) -> Operator:
    """A new operator; 409 naming `username` if it is taken."""
    password_hash = await asyncio.to_thread(security.hash_password, password)
    operator = Operator(
        id=str(uuid.uuid4()),
        username=username,
        password_hash=password_hash,
        role=role.value,
        disabled=False,
        created_at=utcnow(),
        session_version=0,
    )
    session.add(operator)
    try:
        # Flushed here so a taken name is a clean 409, not an error at commit.
        await session.flush()
    except IntegrityError:
        raise Problem(
            409,
            "Username taken",
            f"an operator named {username!r} exists (usernames are unique ignoring case)",
            errors=[field_error("username", "already taken")],
        ) from None
    return operator


async def add_operator(session: AsyncSession, payload: OperatorCreate) -> OperatorPublic:
    operator = await create_operator(
        session, username=payload.username, password=payload.password, role=payload.role
    )
    return operator_public(operator)


async def list_operators(session: AsyncSession) -> list[OperatorPublic]:
    operators = await session.scalars(select(Operator).order_by(Operator.username))
    return [operator_public(o) for o in operators]


async def add_api_key(session: AsyncSession, payload: ApiKeyCreate) -> ApiKeyCreated:
    new_key = security.generate_api_key()
    api_key = ApiKey(
        id=str(uuid.uuid4()),
        name=payload.name,
        prefix=new_key.prefix,
        hash=new_key.hash,
        role=payload.role.value,
        created_at=utcnow(),
        revoked_at=None,
    )
    session.add(api_key)
    await session.flush()
    return ApiKeyCreated(**api_key_public(api_key).model_dump(), key=new_key.key)


async def list_api_keys(session: AsyncSession) -> list[ApiKeyPublic]:
    keys = await session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id))
    return [api_key_public(k) for k in keys]


async def get_api_key(session: AsyncSession, key_id: str) -> ApiKey:
    api_key = await session.get(ApiKey, key_id)
    if api_key is None:
        raise Problem(404, "API key not found", f"no API key with id {key_id}")
    return api_key


async def revoke_api_key(session: AsyncSession, api_key: ApiKey) -> ApiKeyPublic:
    """Revoked from now on; revoking a revoked key keeps its first revocation time."""
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        await session.flush()
    return api_key_public(api_key)


async def get_operator(session: AsyncSession, operator_id: str) -> Operator:
    operator = await session.get(Operator, operator_id)
    if operator is None:
        raise Problem(404, "Operator not found", f"no operator with id {operator_id}")
    return operator


async def _enabled_admins(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Operator)
        .where(Operator.role == Role.ADMIN.value, Operator.disabled.is_(False))
    )
    return int(count or 0)


async def update_operator(
    session: AsyncSession, operator: Operator, payload: OperatorUpdate
) -> OperatorPublic:
    """Applies the change; refuses (409) to leave the system without an enabled admin.

    Disabling or enabling an operator or setting their password ends their sessions: every
    refresh token of theirs is revoked, and the session version their access tokens carry moves
    on, so those stop too (within the operator cache's few seconds in other gateway processes).
    """
    was_admin = operator.role == Role.ADMIN.value and not operator.disabled
    ends_sessions = payload.password is not None or (
        payload.disabled is not None and payload.disabled != operator.disabled
    )
    if payload.role is not None:
        operator.role = payload.role.value
    if payload.disabled is not None:
        operator.disabled = payload.disabled
    if payload.password is not None:
        operator.password_hash = await asyncio.to_thread(security.hash_password, payload.password)
    if ends_sessions:
        operator.session_version += 1
    still_admin = operator.role == Role.ADMIN.value and not operator.disabled
    await session.flush()
    if was_admin and not still_admin and await _enabled_admins(session) == 0:
        raise Problem(
            409,
            "Last admin",
            "at least one enabled admin must remain",
            errors=[field_error("role", "the last enabled admin")],
        )
    if ends_sessions:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.operator_id == operator.id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    return operator_public(operator)
