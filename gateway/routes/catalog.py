"""The catalog, read from billing: webshops and products with their plans; admins add to it."""

from collections.abc import Awaitable
from typing import Annotated, Literal

from fastapi import APIRouter, Path

from gateway.audit import AuditDep, AuditTrail
from gateway.deps import ServicesDep
from gateway.idempotent_writes import WriteServicesDep
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


@router.get(
    "/webshops", response_model=Page[Webshop], responses=problem_responses(*AUTH_ERRORS, 503)
)
async def list_webshops(_: CanReadCatalog, services: ServicesDep) -> Page[Webshop]:
    """Every webshop, with the currencies it sells in and the products it offers."""
    return Page[Webshop](items=await services.billing.list_webshops())


@router.post(
    "/webshops",
    status_code=201,
    response_model=Webshop,
    responses=problem_responses(*AUTH_ERRORS, 409, 422, 503),
)
async def create_webshop(
    payload: WebshopCreate, _: CanEditCatalog, services: WriteServicesDep, audit: AuditDep
) -> Webshop:
    """Add a webshop (admin)."""
    async with audit.record("webshop.create") as entry:
        webshop = await services.billing.create_webshop(payload)
        entry.after, entry.status_code = webshop.model_dump(mode="json"), 201
    return webshop


@router.get(
    "/products", response_model=Page[Product], responses=problem_responses(*AUTH_ERRORS, 503)
)
async def list_products(
    _: CanReadCatalog, services: ServicesDep, kind: Literal["base", "extra"] | None = None
) -> Page[Product]:
    """Base and extra products with their payment plans and prices; `kind` narrows to one."""
    return Page[Product](items=await services.billing.list_products(kind))


@router.post(
    "/products",
    status_code=201,
    response_model=Product,
    responses=problem_responses(*AUTH_ERRORS, 409, 422, 503),
)
async def create_product(
    payload: ProductCreate, _: CanEditCatalog, services: WriteServicesDep, audit: AuditDep
) -> Product:
    """Add a base or extra product with its payment plans (admin)."""
    async with audit.record("product.create") as entry:
        product = await services.billing.create_product(payload)
        entry.after, entry.status_code = product.model_dump(mode="json"), 201
    return product


WebshopId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
ProductId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
PlanId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
_EDIT_ERRORS = problem_responses(*AUTH_ERRORS, 404, 409, 422, 503)


async def _audited_webshop(audit: AuditTrail, action: str, edit: Awaitable[Webshop]) -> Webshop:
    async with audit.record(action) as entry:
        webshop = await edit
        entry.after = webshop.model_dump(mode="json")
    return webshop


async def _audited_product(
    audit: AuditTrail, action: str, edit: Awaitable[Product], status_code: int = 200
) -> Product:
    async with audit.record(action) as entry:
        product = await edit
        entry.after, entry.status_code = product.model_dump(mode="json"), status_code
    return product


@router.patch("/webshops/{webshop_id}", response_model=Webshop, responses=_EDIT_ERRORS)
async def update_webshop(
    webshop_id: WebshopId,
    payload: WebshopUpdate,
    _: CanEditCatalog,
    services: WriteServicesDep,
    audit: AuditDep,
) -> Webshop:
    """Rename a webshop, or change its currencies or the products it offers (admin)."""
    edit = services.billing.update_webshop(webshop_id, payload)
    return await _audited_webshop(audit, "webshop.update", edit)


@router.delete("/webshops/{webshop_id}", response_model=Webshop, responses=_EDIT_ERRORS)
async def archive_webshop(
    webshop_id: WebshopId, _: CanEditCatalog, services: WriteServicesDep, audit: AuditDep
) -> Webshop:
    """Archive a webshop (admin): never deleted, it sells nothing more."""
    edit = services.billing.archive_webshop(webshop_id)
    return await _audited_webshop(audit, "webshop.archive", edit)


@router.get(
    "/products/{product_id}",
    response_model=Product,
    responses=problem_responses(*AUTH_ERRORS, 404, 503),
)
async def get_product(product_id: ProductId, _: CanReadCatalog, services: ServicesDep) -> Product:
    """One product with its plans (archived ones included, marked)."""
    return await services.billing.get_product(product_id)


@router.patch("/products/{product_id}", response_model=Product, responses=_EDIT_ERRORS)
async def update_product(
    product_id: ProductId,
    payload: ProductUpdate,
    _: CanEditCatalog,
    services: WriteServicesDep,
    audit: AuditDep,
) -> Product:
    """Edit a product (admin); `kind` and `subscription_type` are fixed once created."""
    edit = services.billing.update_product(product_id, payload)
    return await _audited_product(audit, "product.update", edit)


@router.delete("/products/{product_id}", response_model=Product, responses=_EDIT_ERRORS)
async def archive_product(
    product_id: ProductId, _: CanEditCatalog, services: WriteServicesDep, audit: AuditDep
) -> Product:
    """Archive a product (admin): never deleted; it can no longer be sold, running
    subscriptions on it go on."""
    edit = services.billing.archive_product(product_id)
    return await _audited_product(audit, "product.archive", edit)


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
    services: WriteServicesDep,
    audit: AuditDep,
) -> Product:
    """Add a payment plan to a product (admin)."""
    edit = services.billing.add_plan(product_id, payload)
    return await _audited_product(audit, "plan.create", edit, 201)


@router.patch(
    "/products/{product_id}/plans/{plan_id}", response_model=Product, responses=_EDIT_ERRORS
)
async def update_plan(
    product_id: ProductId,
    plan_id: PlanId,
    payload: PlanUpdate,
    _: CanEditCatalog,
    services: WriteServicesDep,
    audit: AuditDep,
) -> Product:
    """Rename a plan or change its prices (admin); its length and unit are fixed."""
    edit = services.billing.update_plan(product_id, plan_id, payload)
    return await _audited_product(audit, "plan.update", edit)


@router.delete(
    "/products/{product_id}/plans/{plan_id}", response_model=Product, responses=_EDIT_ERRORS
)
async def archive_plan(
    product_id: ProductId,
    plan_id: PlanId,
    _: CanEditCatalog,
    services: WriteServicesDep,
    audit: AuditDep,
) -> Product:
    """Archive a plan (admin): never deleted, no longer sold."""
    edit = services.billing.archive_plan(product_id, plan_id)
    return await _audited_product(audit, "plan.archive", edit)
