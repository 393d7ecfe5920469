"""Internal HTTP API of the customers service (called by the gateway only). Every write runs
once per `Idempotency-Key` (services/runtime/idempotency.py)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.timeline import ServiceTimeline
from services.customers import editing, listing, service, timeline
from services.customers.schemas import (
    CustomerCreate,
    CustomerCreated,
    CustomerPage,
    CustomerPublic,
    CustomerStatus,
    CustomerUpdate,
    SortKey,
)
from services.runtime.idempotency import Answer, WriteOnceDep
from services.runtime.paging import Cursor, Limit
from services.runtime.query_datetime import QueryDatetime
from services.runtime.service_app import RuntimeDep

router = APIRouter(prefix="/customers", tags=["customers"])


@router.post("", status_code=201, response_model=CustomerCreated)
async def create_customer(payload: CustomerCreate, rt: RuntimeDep, once: WriteOnceDep) -> Response:
    """Create a customer and their account; emits customer.created with the order. A retry
    gets the same answer without the generated password (it is shown once)."""

    async def work(session: AsyncSession) -> Answer:
        created = await service.create_customer(session, rt.outbox, payload)
        return Answer(
            created,
            201,
            customer_id=created.id,
            stored_body=created.model_copy(update={"password": None}),
        )

    return await once(work)


async def list_filters(
    status: Annotated[list[CustomerStatus] | None, Query()] = None,
    status_group: Annotated[str | None, Query(pattern="^(active|inactive)$")] = None,
    source: Annotated[str | None, Query(pattern="^(manual|webshop)$")] = None,
    webshop_id: str | None = None,
    product_id: str | None = None,
    expires_before: QueryDatetime | None = None,
    expires_after: QueryDatetime | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> listing.ListFilters:
    return listing.ListFilters(
        status=list(status) if status else None,
        status_group=status_group,
        source=source,
        webshop_id=webshop_id,
        product_id=product_id,
        expires_before=expires_before,
        expires_after=expires_after,
        q=q or None,
    )


FiltersDep = Annotated[listing.ListFilters, Depends(list_filters)]


@router.get("", response_model=CustomerPage)
async def list_customers(
    rt: RuntimeDep,
    filters: FiltersDep,
    sort: SortKey = "-created_at",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """Customers in every status, filtered, searched (a prefix ignoring case, and accents in
    names) and keyset-paged."""
    async with rt.db.sessions() as session:
        body = await listing.list_customers_json(
            session, filters, sort=sort, limit=limit, cursor=cursor
        )
    # JSON bytes written from the rows (list_json.py): returned as a model, FastAPI would dump,
    # validate and serialize the page again (~2 ms of 50 rows); response_model documents it.
    return Response(body, media_type="application/json")


@router.get("/export.csv", response_class=StreamingResponse)
async def export_customers(
    rt: RuntimeDep, filters: FiltersDep, sort: SortKey = "-created_at"
) -> StreamingResponse:
    """The whole filtered list as CSV (UTF-8, a header row), streamed in keyset batches."""
    return StreamingResponse(
        listing.stream_csv(rt.db, filters, sort=sort),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="customers.csv"'},
    )


@router.get("/{customer_id}", response_model=CustomerPublic)
async def get_customer(customer_id: str, rt: RuntimeDep) -> CustomerPublic:
    async with rt.db.sessions() as session:
        return await service.get_customer(session, customer_id)


@router.patch("/{customer_id}", response_model=CustomerPublic)
async def update_customer(
    customer_id: str,
    payload: CustomerUpdate,
    rt: RuntimeDep,
    once: WriteOnceDep,
) -> Response:
    """Edit personal data or rebind the webshop; emits customer.updated when anything changed."""

    async def work(session: AsyncSession) -> Answer:
        return Answer(await editing.update_customer(session, rt.outbox, customer_id, payload))

    return await once(work)


@router.get("/{customer_id}/timeline", response_model=ServiceTimeline)
async def customer_timeline(
    customer_id: str, rt: RuntimeDep, limit: Limit = 200
) -> ServiceTimeline:
    async with rt.db.sessions() as session:
        return await timeline.customer_timeline(session, customer_id, limit=limit)
