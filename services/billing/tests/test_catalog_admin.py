"""Catalog administration: edits, archiving instead of deleting, and what is archived is not
sold."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.billing import catalog, service
from services.billing.schemas import (
    OrderCheck,
    PlanIn,
    PlanUpdate,
    ProductIn,
    ProductUpdate,
    WebshopUpdate,
)
from services.runtime.db import Database, utcnow
from services.runtime.problems import Problem


def plan(**changes: object) -> dict[str, object]:
    return {
        "id": "basic-3m",
        "name": "3 months",
        "length": 3,
        "unit": "months",
        "prices": {"EUR": "27.00"},
        **changes,
    }


async def refusal(db: Database, check: OrderCheck) -> service.OrderRefused:
    async with db.sessions() as session:
        with pytest.raises(service.OrderRefused) as refused:
            await service.resolve_sale(session, check)
    return refused.value


async def test_a_plan_is_added_edited_and_archived_then_no_longer_sold(db: Database) -> None:
    async with db.transaction() as session:
        added = await catalog.add_plan(session, "basic", PlanIn.model_validate(plan()))
        edited = await catalog.update_plan(
            session, "basic", "basic-3m", PlanUpdate(prices={"EUR": Decimal("0")})
        )
    assert [p.id for p in added.plans] == ["basic-1m", "basic-12m", "basic-3m"]
    assert edited.plans[2].prices == {"EUR": Decimal("0")}  # a price may be zero
    sale = OrderCheck(webshop_id="shop-eu", product_id="basic", plan_id="basic-3m")
    async with db.sessions() as session:
        await service.resolve_sale(session, sale)
    async with db.transaction() as session:
        archived = await catalog.archive_plan(session, "basic", "basic-3m", utcnow())
    assert archived.plans[2].archived and archived.plans[2].archived_at is not None
    refused = await refusal(db, sale)
    assert (refused.field, refused.reason) == ("plan_id", "plan 'basic-3m' is archived")


async def test_an_archived_product_stays_listed_but_is_not_sold(db: Database) -> None:
    async with db.transaction() as session:
        await catalog.archive_product(session, "premium", utcnow())
        listed = {p.id: p for p in await service.list_products(session)}
    assert listed["premium"].archived
    refused = await refusal(
        db, OrderCheck(webshop_id="shop-eu", product_id="premium", plan_id="premium-1m")
    )
    assert refused.field == "product_id" and "archived" in refused.reason


async def test_a_plan_without_a_price_in_the_webshops_currency_is_not_sold_there(
    db: Database,
) -> None:
    async with db.transaction() as session:
        await catalog.add_plan(
            session, "basic", PlanIn.model_validate(plan(id="basic-gbp", prices={"GBP": "5"}))
        )
    refused = await refusal(
        db, OrderCheck(webshop_id="shop-eu", product_id="basic", plan_id="basic-gbp")
    )
    assert refused.field == "plan_id" and "does not sell" in refused.reason


async def test_webshop_and_product_edits(db: Database) -> None:
    async with db.transaction() as session:
        shop = await catalog.update_webshop(
            session, "shop-us", WebshopUpdate(product_ids=["basic", "premium", "trial"])
        )
        product = await catalog.update_product(
            session, "basic", ProductUpdate(max_devices=3, device_policy="evict_oldest")
        )
    assert shop.product_ids == ["basic", "premium", "trial"]
    assert (product.max_devices, product.device_policy, product.name) == (
        3,
        "evict_oldest",
        "Basic TV",
    )
    async with db.transaction() as session:
        with pytest.raises(Problem) as unknown:
            await catalog.update_webshop(session, "shop-us", WebshopUpdate(product_ids=["nope"]))
    assert unknown.value.status == 422


@pytest.mark.parametrize("field", ["subscription_type", "kind"])
def test_kind_and_subscription_type_are_fixed_once_created(field: str) -> None:
    with pytest.raises(ValidationError, match=f"{field} is fixed"):
        ProductUpdate.model_validate({field: "trial"})


@pytest.mark.parametrize("length", [-1, 0])
def test_a_negative_or_zero_length_is_refused(length: int) -> None:
    with pytest.raises(ValidationError) as refused:
        ProductIn.model_validate(
            {
                "id": "x",
                "name": "X",
                "kind": "base",
                "max_devices": 1,
                "plans": [plan(length=length)],
            }
        )
    assert refused.value.errors()[0]["loc"] == ("plans", 0, "length")
