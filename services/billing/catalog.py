"""Catalog administration: edit webshops, products and plans, and archive them.

Nothing is ever deleted, because a subscription or a ledger entry may name it: "delete" sets
`archived_at`, and what is archived can no longer be sold (resolve_sale refuses it).
"""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.models import Plan, Product, Webshop
from services.billing.schemas import (
    PlanIn,
    PlanUpdate,
    ProductPublic,
    ProductUpdate,
    WebshopPublic,
    WebshopUpdate,
)
from services.billing.service import product_public, webshop_public
from services.runtime.problems import Problem, field_error


def _not_found(what: str, id_: str) -> Problem:
    return Problem(404, f"No such {what}", f"there is no {what} {id_!r}")


async def get_webshop_row(session: AsyncSession, webshop_id: str) -> Webshop:
    webshop = await session.get(Webshop, webshop_id, with_for_update=True)
    if webshop is None:
        raise _not_found("webshop", webshop_id)
    return webshop


async def get_product_row(session: AsyncSession, product_id: str) -> Product:
    product = await session.get(Product, product_id)
    if product is None:
        raise _not_found("product", product_id)
    return product


async def get_product(session: AsyncSession, product_id: str) -> ProductPublic:
    return product_public(await get_product_row(session, product_id))


async def update_webshop(
    session: AsyncSession, webshop_id: str, payload: WebshopUpdate
) -> WebshopPublic:
    webshop = await get_webshop_row(session, webshop_id)
    if payload.product_ids is not None:
        known = set(
            (
                await session.scalars(select(Product.id).where(Product.id.in_(payload.product_ids)))
            ).all()
        )
        unknown = [p for p in payload.product_ids if p not in known]
        if unknown:
            raise Problem(
                422,
                "Unknown product",
                f"unknown products: {', '.join(unknown)}",
                errors=[field_error("product_ids", "unknown products")],
            )
        webshop.product_ids = list(dict.fromkeys(payload.product_ids))
    if payload.name is not None:
        webshop.name = payload.name
    if payload.currencies is not None:
        webshop.currencies = list(dict.fromkeys(payload.currencies))
    await session.flush()
    return webshop_public(webshop)


async def archive_webshop(session: AsyncSession, webshop_id: str, now: datetime) -> WebshopPublic:
    webshop = await get_webshop_row(session, webshop_id)
    webshop.archived_at = webshop.archived_at or now
    await session.flush()
    return webshop_public(webshop)


async def update_product(
    session: AsyncSession, product_id: str, payload: ProductUpdate
) -> ProductPublic:
    product = await get_product_row(session, product_id)
    nullable = {"device_policy", "mapping_id"}
    for name in payload.model_fields_set - {"kind", "subscription_type"}:
        value = getattr(payload, name)
        if value is not None or name in nullable:
            setattr(product, name, value)
    await session.flush()
    return product_public(product)


async def archive_product(session: AsyncSession, product_id: str, now: datetime) -> ProductPublic:
    product = await get_product_row(session, product_id)
    product.archived_at = product.archived_at or now
    await session.flush()
    return product_public(product)


async def add_plan(session: AsyncSession, product_id: str, payload: PlanIn) -> ProductPublic:
    product = await get_product_row(session, product_id)
    if await session.get(Plan, payload.id) is not None:
        raise Problem(
            409,
            "Plan exists",
            f"a plan with id {payload.id!r} exists",
            errors=[field_error("id", "taken")],
        )
    product.plans.append(
        Plan(
            id=payload.id,
            name=payload.name,
            length=payload.length,
            unit=payload.unit,
            prices={c: format(p, "f") for c, p in payload.prices.items()},
            position=len(product.plans),
        )
    )
    await session.flush()
    return product_public(product)


async def _plan_of(session: AsyncSession, product_id: str, plan_id: str) -> tuple[Product, Plan]:
    product = await get_product_row(session, product_id)
    plan = next((p for p in product.plans if p.id == plan_id), None)
    if plan is None:
        raise _not_found("plan", plan_id)
    return product, plan


async def update_plan(
    session: AsyncSession, product_id: str, plan_id: str, payload: PlanUpdate
) -> ProductPublic:
    product, plan = await _plan_of(session, product_id, plan_id)
    if payload.name is not None:
        plan.name = payload.name
    if payload.prices is not None:
        plan.prices = {c: format(Decimal(p), "f") for c, p in payload.prices.items()}
    await session.flush()
    return product_public(product)


async def archive_plan(
    session: AsyncSession, product_id: str, plan_id: str, now: datetime
) -> ProductPublic:
    product, plan = await _plan_of(session, product_id, plan_id)
    plan.archived_at = plan.archived_at or now
    await session.flush()
    return product_public(product)
