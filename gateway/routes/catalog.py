"""The catalog, read from billing: webshops and products with their plans; admins add to it."""

from typing import Literal

from fastapi import APIRouter
from pydantic import TypeAdapter

from gateway.audit import AuditDep
from gateway.auth import CanEditCatalog, CanReadCatalog
from gateway.deps import DownstreamDep
from gateway.downstream import parse_as
from gateway.routes.prefix import API_PREFIX
from gateway.schemas.catalog import Product, ProductCreate, Webshop, WebshopCreate
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
    payload: WebshopCreate, _: CanEditCatalog, downstream: DownstreamDep, audit: AuditDep
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
    payload: ProductCreate, _: CanEditCatalog, downstream: DownstreamDep, audit: AuditDep
) -> Product:
    """Add a base or extra product with its payment plans (admin)."""
    async with audit.record("product.create") as entry:
        data = await downstream.call(
            "billing", "POST", "/products", json_body=payload.model_dump(mode="json")
        )
        product = parse_as(_PRODUCT, data, "billing")
        entry.after, entry.status_code = product.model_dump(mode="json"), 201
    return product
