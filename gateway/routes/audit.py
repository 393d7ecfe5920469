"""Reading the audit log of writes made through the gateway."""

from typing import Annotated

from fastapi import APIRouter, Query

from gateway import audit
from gateway.deps import DatabaseDep
from gateway.identity.auth import CanReadAudit
from gateway.routes.prefix import API_PREFIX
from gateway.schemas.audit import AuditEntryPublic
from gateway.schemas.common import AUTH_ERRORS, Page, problem_responses
from services.runtime.paging import Cursor, Limit

router = APIRouter(prefix=API_PREFIX, tags=["audit"])


@router.get(
    "/audit",
    response_model=Page[AuditEntryPublic],
    responses=problem_responses(*AUTH_ERRORS, 422),
)
async def list_audit_entries(
    _: CanReadAudit,
    db: DatabaseDep,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[
        str | None, Query(max_length=100, description="Operator username or API key name.")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[AuditEntryPublic]:
    """Writes made through the gateway, newest first (admin). Secrets are never recorded."""
    async with db.sessions() as session:
        return await audit.list_entries(
            session, customer_id=customer_id, actor=actor, limit=limit, cursor=cursor
        )
