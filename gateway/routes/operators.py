"""Operator accounts (admin). Writes run once per `Idempotency-Key`
(services/runtime/idempotency.py), on the gateway's database."""

from typing import Annotated

from fastapi import APIRouter, Path, Response
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import AuditDep
from gateway.deps import DatabaseDep, OperatorCacheDep
from gateway.identity import accounts
from gateway.identity.auth import CanManageOperators
from gateway.routes.prefix import API_PREFIX
from gateway.schemas.accounts import OperatorCreate, OperatorPublic, OperatorUpdate
from gateway.schemas.common import AUTH_ERRORS, Page, problem_responses
from services.runtime.idempotency import Answer, WriteOnceDep

router = APIRouter(prefix=f"{API_PREFIX}/operators", tags=["operators"])


@router.post(
    "",
    status_code=201,
    response_model=OperatorPublic,
    responses=problem_responses(*AUTH_ERRORS, 409, 422),
)
async def create_operator(
    payload: OperatorCreate, _: CanManageOperators, audit: AuditDep, once: WriteOnceDep
) -> Response:
    """Add an operator who signs in with this username and password."""
    async with audit.record("operator.create") as entry:

        async def work(session: AsyncSession) -> Answer:
            operator = await accounts.add_operator(session, payload)
            entry.after = operator.model_dump(mode="json")
            return Answer(operator, 201)

        answer = await once(work)
        entry.status_code = answer.status_code
    return answer


@router.get("", response_model=Page[OperatorPublic], responses=problem_responses(*AUTH_ERRORS))
async def list_operators(_: CanManageOperators, db: DatabaseDep) -> Page[OperatorPublic]:
    """Every operator, by username."""
    async with db.sessions() as session:
        return Page[OperatorPublic](items=await accounts.list_operators(session))


@router.patch(
    "/{operator_id}",
    response_model=OperatorPublic,
    responses=problem_responses(*AUTH_ERRORS, 404, 409, 422),
)
async def update_operator(
    operator_id: Annotated[str, Path(max_length=36)],
    payload: OperatorUpdate,
    _: CanManageOperators,
    db: DatabaseDep,
    operators: OperatorCacheDep,
    audit: AuditDep,
    once: WriteOnceDep,
) -> Response:
    """Change an operator's role, disable or enable them, or set their password.

    Disabling or a new password ends their sessions (refresh tokens revoked). The last enabled
    admin cannot be demoted or disabled (409).
    """
    async with db.sessions() as session:
        before = accounts.operator_public(await accounts.get_operator(session, operator_id))
    async with audit.record("operator.update", before=before.model_dump(mode="json")) as entry:

        async def work(session: AsyncSession) -> Answer:
            operator = await accounts.get_operator(session, operator_id)
            after = await accounts.update_operator(session, operator, payload)
            entry.after = after.model_dump(mode="json")
            return Answer(after)

        answer = await once(work)
    # Committed: this process's bearer check sees the change on the next request.
    operators.forget(operator_id)
    return answer
