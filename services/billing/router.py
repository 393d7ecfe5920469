"""Internal HTTP API of billing (called by the gateway only)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from services.billing import service
from services.billing.schemas import (
    OrderCheck,
    ProductIn,
    ProductPublic,
    SubscriptionPublic,
    TransactionPage,
    WebshopIn,
    WebshopPublic,
)
from services.runtime.problems import Problem
from services.runtime.service_app import RuntimeDep

router = APIRouter(tags=["billing"])


@router.get("/webshops", response_model=list[WebshopPublic])
async def list_webshops(rt: RuntimeDep) -> list[WebshopPublic]:
    async with rt.db.sessions() as session:
        return await service.list_webshops(session)


@router.post("/webshops", status_code=201, response_model=WebshopPublic)
async def create_webshop(payload: WebshopIn, rt: RuntimeDep) -> WebshopPublic:
    async with rt.db.transaction() as session:
        return await service.create_webshop(session, payload)


@router.get("/products", response_model=list[ProductPublic])
async def list_products(
    rt: RuntimeDep, kind: Literal["base", "extra"] | None = None
) -> list[ProductPublic]:
    async with rt.db.sessions() as session:
        return await service.list_products(session, kind)


@router.post("/products", status_code=201, response_model=ProductPublic)
async def create_product(payload: ProductIn, rt: RuntimeDep) -> ProductPublic:
    async with rt.db.transaction() as session:
        return await service.create_product(session, payload)


@router.post("/orders/check", status_code=204)
async def check_order(payload: OrderCheck, rt: RuntimeDep) -> None:
    """Refuse, with the field at fault, a sale the catalog does not allow."""
    async with rt.db.sessions() as session:
        try:
            await service.resolve_sale(session, payload)
        except service.OrderRefused as refused:
            raise Problem(
                422,
                "Order not allowed",
                refused.reason,
                extra={"errors": [{"field": refused.field, "message": refused.reason}]},
            ) from None


@router.get("/customers/{customer_id}/subscription", response_model=SubscriptionPublic)
async def get_subscription(customer_id: str, rt: RuntimeDep) -> SubscriptionPublic:
    async with rt.db.sessions() as session:
        return await service.get_subscription(session, customer_id)


@router.get("/customers/{customer_id}/transactions", response_model=TransactionPage)
async def list_transactions(
    customer_id: str,
    rt: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> TransactionPage:
    async with rt.db.sessions() as session:
        return await service.list_transactions(session, customer_id, limit=limit, cursor=cursor)
