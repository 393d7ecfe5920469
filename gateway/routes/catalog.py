"""The catalog, read from billing: webshops and products with their plans; admins add to it."""

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, TypeAdapter

from gateway.audit import AuditDep, AuditTrail
from gateway.deps import DownstreamDep
from gateway.downstream import Downstream, parse_as, segment
from gateway.idempotent_writes import WriteDownstreamDep
from gateway.identity.auth import CanEditCatalog, CanReadCatalog
from gateway.routes.prefix import API_PREFIX
from gateway.schemas.catalog import (
    PlanCreate,
    PlanUpdate,
    Product,
    ProductCreate,
    ProductUpdate,
    Webshop,
    WebshopCreate,
    WebshopUpdate,
)
from gateway.schemas.common import AUTH_ERRORS, Page, problem_responses

router = APIRouter(prefix=API_PREFIX, tags=["catalog"])

_WEBSHOPS = TypeAdapter(list[Webshop])
_WEBSHOP = TypeAdapter(Webshop)
_PRODUCTS = TypeAdapter(list[Product])
_PRODUCT = TypeAdapter(Product)


@router.get(
    "/webshops", response_model=Page[Webshop], responses=problem_responses(*AUTH_ERRORS, 503)
)
async def list_webshops(_: CanReadCatalog, downstream: DownstreamDep) -> Page[Webshop]:
    """Every webshop, with the currencies it sells in and the products it offers."""
    data = await downstream.call("billing", "GET", "/webshops")
    return Page[Webshop](items=parse_as(_WEBSHOPS, data, "billing"))


@router.post(
    "/webshops",
    status_code=201,
    response_model=Webshop,
    responses=problem_responses(*AUTH_ERRORS, 409, 422, 503),
)
async def create_webshop(
    payload: WebshopCreate, _: CanEditCatalog, downstream: WriteDownstreamDep, audit: AuditDep
) -> Webshop:
    """Add a webshop (admin)."""
    async with audit.record("webshop.create") as entry:
        data = await downstream.call(
            "billing", "POST", "/webshops", json_body=payload.model_dump(mode="json")
        )
        webshop = parse_as(_WEBSHOP, data, "billing")
        entry.after, entry.status_code = webshop.model_dump(mode="json"), 201
    return webshop


@router.get(
    "/products", response_model=Page[Product], responses=problem_responses(*AUTH_ERRORS, 503)
)
async def list_products(
    _: CanReadCatalog, downstream: DownstreamDep, kind: Literal["base", "extra"] | None = None
) -> Page[Product]:
    """Base and extra products with their payment plans and prices; `kind` narrows to one."""
    params = [("kind", kind)] if kind else None
    data = await downstream.call("billing", "GET", "/products", params=params)
    return Page[Product](items=parse_as(_PRODUCTS, data, "billing"))


@router.post(
    "/products",
    status_code=201,
    response_model=Product,
    responses=problem_responses(*AUTH_ERRORS, 409, 422, 503),
)
async def create_product(
    payload: ProductCreate, _: CanEditCatalog, downstream: WriteDownstreamDep, audit: AuditDep
) -> Product:
    """Add a base or extra product with its payment plans (admin)."""
    async with audit.record("product.create") as entry:
        data = await downstream.call(
            "billing", "POST", "/products", json_body=payload.model_dump(mode="json")
        )
        product = parse_as(_PRODUCT, data, "billing")
        entry.after, entry.status_code = product.model_dump(mode="json"), 201
    return product


WebshopId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
ProductId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
PlanId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
_EDIT_ERRORS = problem_responses(*AUTH_ERRORS, 404, 409, 422, 503)


async def _edit_webshop(
    downstream: Downstream,
    audit: AuditTrail,
    action: str,
    webshop_id: str,
    method: str,
    body: BaseModel | None,
) -> Webshop:
    async with audit.record(action) as entry:
        data = await downstream.call(
            "billing",
            method,
            f"/webshops/{segment(webshop_id)}",
            json_body=body.model_dump(mode="json", exclude_unset=True) if body else None,
        )
        webshop = parse_as(_WEBSHOP, data, "billing")
        entry.after = webshop.model_dump(mode="json")
    return webshop


async def _edit_product(
    downstream: Downstream,
    audit: AuditTrail,
    action: str,
    method: str,
    path: str,
    body: BaseModel | None,
    status_code: int = 200,
) -> Product:
    async with audit.record(action) as entry:
        data = await downstream.call(
            "billing",
            method,
            path,
            json_body=body.model_dump(mode="json", exclude_unset=True) if body else None,
        )
        product = parse_as(_PRODUCT, data, "billing")
        entry.after, entry.status_code = product.model_dump(mode="json"), status_code
    return product


@router.patch("/webshops/{webshop_id}", response_model=Webshop, responses=_EDIT_ERRORS)
async def update_webshop(
    webshop_id: WebshopId,
    payload: WebshopUpdate,
    _: CanEditCatalog,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> Webshop:
    """Rename a webshop, or change its currencies or the products it offers (admin)."""
    return await _edit_webshop(downstream, audit, "webshop.update", webshop_id, "PATCH", payload)


@router.delete("/webshops/{webshop_id}", response_model=Webshop, responses=_EDIT_ERRORS)
async def archive_webshop(
    webshop_id: WebshopId, _: CanEditCatalog, downstream: WriteDownstreamDep, audit: AuditDep
) -> Webshop:
    """Archive a webshop (admin): never deleted, it sells nothing more."""
    return await _edit_webshop(downstream, audit, "webshop.archive", webshop_id, "DELETE", None)


@router.get(
    "/products/{product_id}",
    response_model=Product,
    responses=problem_responses(*AUTH_ERRORS, 404, 503),
)
async def get_product(
    product_id: ProductId, _: CanReadCatalog, downstream: DownstreamDep
) -> Product:
    """One product with its plans (archived ones included, marked)."""
    data = await downstream.call("billing", "GET", f"/products/{segment(product_id)}")
    return parse_as(_PRODUCT, data, "billing")


@router.patch("/products/{product_id}", response_model=Product, responses=_EDIT_ERRORS)
async def update_product(
    product_id: ProductId,
    payload: ProductUpdate,
    _: CanEditCatalog,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> Product:
    """Edit a product (admin); `kind` and `subscription_type` are fixed once created."""
    path = f"/products/{segment(product_id)}"
    return await _edit_product(downstream, audit, "product.update", "PATCH", path, payload)


@router.delete("/products/{product_id}", response_model=Product, responses=_EDIT_ERRORS)
async def archive_product(
    product_id: ProductId, _: CanEditCatalog, downstream: WriteDownstreamDep, audit: AuditDep
) -> Product:
    """Archive a product (admin): never deleted; it can no longer be sold, running
    subscriptions on it go on."""
    path = f"/products/{segment(product_id)}"
    return await _edit_product(downstream, audit, "product.archive", "DELETE", path, None)


@router.post(
    "/products/{product_id}/plans",
    status_code=201,
    response_model=Product,
    responses=_EDIT_ERRORS,
)
async def add_plan(
    product_id: ProductId,
    payload: PlanCreate,
    _: CanEditCatalog,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> Product:
    """Add a payment plan to a product (admin)."""
    path = f"/products/{segment(product_id)}/plans"
    return await _edit_product(downstream, audit, "plan.create", "POST", path, payload, 201)


@router.patch(
    "/products/{product_id}/plans/{plan_id}", response_model=Product, responses=_EDIT_ERRORS
)
async def update_plan(
    product_id: ProductId,
    plan_id: PlanId,
    payload: PlanUpdate,
    _: CanEditCatalog,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> Product:
    """Rename a plan or change its prices (admin); its length and unit are fixed."""
    path = f"/products/{segment(product_id)}/plans/{segment(plan_id)}"
    return await _edit_product(downstream, audit, "plan.update", "PATCH", path, payload)


@router.delete(
    "/products/{product_id}/plans/{plan_id}", response_model=Product, responses=_EDIT_ERRORS
)
async def archive_plan(
    product_id: ProductId,
    plan_id: PlanId,
    _: CanEditCatalog,
    downstream: WriteDownstreamDep,
    audit: AuditDep,
) -> Product:
    """Archive a plan (admin): never deleted, no longer sold."""
    path = f"/products/{segment(product_id)}/plans/{segment(plan_id)}"
    return await _edit_product(downstream, audit, "plan.archive", "DELETE", path, None)
