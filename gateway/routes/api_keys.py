"""API keys for machines such as dashboards (admin); a key's secret is shown once. Writes run
once per `Idempotency-Key` (services/runtime/idempotency.py), on the gateway's database."""

from typing import Annotated

from fastapi import APIRouter, Path, Response
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import AuditDep
from gateway.deps import CredentialCachesDep, DatabaseDep
from gateway.identity import accounts
from gateway.identity.auth import CanManageApiKeys
from gateway.routes.prefix import API_PREFIX
from gateway.schemas.accounts import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from gateway.schemas.common import AUTH_ERRORS, Page, problem_responses
from services.runtime.idempotency import Answer, WriteOnceDep

router = APIRouter(prefix=f"{API_PREFIX}/api-keys", tags=["api keys"])


@router.post(
    "",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=problem_responses(*AUTH_ERRORS, 422),
)
async def create_api_key(
    payload: ApiKeyCreate, _: CanManageApiKeys, audit: AuditDep, once: WriteOnceDep
) -> Response:
    """Create a key with a role; send it as `X-API-Key`. The `key` is in this answer only (a
    retry with the same Idempotency-Key gets the same key record with `key` null)."""
    async with audit.record("api_key.create") as entry:

        async def work(session: AsyncSession) -> Answer:
            created = await accounts.add_api_key(session, payload)
            entry.after = created.model_dump(mode="json", exclude={"key"})
            return Answer(created, 201, stored_body=created.model_copy(update={"key": None}))

        answer = await once(work)
        entry.status_code = answer.status_code
    return answer


@router.get("", response_model=Page[ApiKeyPublic], responses=problem_responses(*AUTH_ERRORS))
async def list_api_keys(_: CanManageApiKeys, db: DatabaseDep) -> Page[ApiKeyPublic]:
    """Every key, revoked ones included, without their secrets."""
    async with db.sessions() as session:
        return Page[ApiKeyPublic](items=await accounts.list_api_keys(session))


@router.delete(
    "/{key_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(*AUTH_ERRORS, 404),
)
async def revoke_api_key(
    key_id: Annotated[str, Path(max_length=36)],
    _: CanManageApiKeys,
    db: DatabaseDep,
    audit: AuditDep,
    once: WriteOnceDep,
    caches: CredentialCachesDep,
) -> Response:
    """Revoke a key: it stops working at once in this gateway, and within
    OPERATOR_CACHE_SECONDS in any other replica. Revoking twice is harmless."""
    async with db.sessions() as session:
        before = accounts.api_key_public(await accounts.get_api_key(session, key_id))
    async with audit.record("api_key.revoke", before=before.model_dump(mode="json")) as entry:

        async def work(session: AsyncSession) -> Answer:
            after = await accounts.revoke_api_key(
                session, await accounts.get_api_key(session, key_id)
            )
            entry.after = after.model_dump(mode="json")
            return Answer(None, 204)

        answer = await once(work)
        entry.status_code = answer.status_code
    caches.api_keys.forget(key_id)
    return answer
