"""Operator accounts (admin)."""

from fastapi import APIRouter

from gateway import accounts
from gateway.audit import AuditDep
from gateway.auth import CanManageOperators
from gateway.deps import DatabaseDep
from gateway.routes.prefix import API_PREFIX
from gateway.schemas.accounts import OperatorCreate, OperatorPublic
from gateway.schemas.common import AUTH_ERRORS, Page, problem_responses

router = APIRouter(prefix=f"{API_PREFIX}/operators", tags=["operators"])


@router.post(
    "",
    status_code=201,
    response_model=OperatorPublic,
    responses=problem_responses(*AUTH_ERRORS, 409, 422),
)
async def create_operator(
    payload: OperatorCreate, _: CanManageOperators, db: DatabaseDep, audit: AuditDep
) -> OperatorPublic:
    """Add an operator who signs in with this username and password."""
    async with audit.record("operator.create") as entry, db.transaction() as session:
        operator = await accounts.add_operator(session, payload)
        entry.after, entry.status_code = operator.model_dump(mode="json"), 201
    return operator


@router.get("", response_model=Page[OperatorPublic], responses=problem_responses(*AUTH_ERRORS))
async def list_operators(_: CanManageOperators, db: DatabaseDep) -> Page[OperatorPublic]:
    """Every operator, by username."""
    async with db.sessions() as session:
        return Page[OperatorPublic](items=await accounts.list_operators(session))
