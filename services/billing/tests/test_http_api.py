"""Billing as wired by its ServiceSpec: `/orders/check` and catalog writes refuse bad money with a
problem naming the field, and a parked refund its order refuses goes to the dead-letter topic
while the order itself is applied."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from services.billing.app import SPEC
from services.billing.models import Subscription
from services.billing.tests._setup import ledger
from services.contracts import topics
from services.contracts.customers import (
    CustomerOrderPlacedV1,
    OrderPayment,
    SubscriptionOrder,
)
from services.contracts.envelope import CloudEvent
from services.contracts.topics import dlq
from services.contracts.webshop import OrderRefundedV1
from services.runtime.db import Database
from services.runtime.problems import install_problem_handlers
from services.runtime.service_app import Runtime
from services.runtime.tests._helpers import (
    RecordingProducer,
    consumer_record,
    event_bytes,
    service_runtime,
)

SALE = {"webshop_id": "shop-eu", "product_id": "premium", "plan_id": "premium-1m"}


@pytest.fixture
async def runtime(db: Database) -> AsyncIterator[Runtime]:
    async with service_runtime(SPEC, db) as rt:
        yield rt


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.runtime = runtime
    app.state.idempotency = runtime.idempotency
    install_problem_handlers(app)
    app.include_router(SPEC.router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://billing") as client:
        yield client


def _fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return [e["field"] for e in response.json()["errors"]]


async def test_an_order_check_with_the_catalogs_price_passes(http: httpx.AsyncClient) -> None:
    response = await http.post("/orders/check", json=SALE | {"amount": "19.99", "currency": "EUR"})
    assert response.status_code == 204, response.text
    assert (await http.post("/orders/check", json=SALE)).status_code == 204


@pytest.mark.parametrize(
    ("paid", "field", "code"),
    [
        ({"amount": "0.01", "currency": "EUR"}, "amount", "amount_mismatch"),
        ({"amount": "21.99", "currency": "USD"}, "currency", "currency_not_accepted"),
    ],
    ids=["underpaid", "currency-the-webshop-does-not-take"],
)
async def test_an_order_check_off_the_catalog_is_a_problem_with_its_code(
    http: httpx.AsyncClient, paid: dict[str, str], field: str, code: str
) -> None:
    response = await http.post("/orders/check", json=SALE | paid)
    assert _fields(response) == [field]
    assert response.json()["code"] == code


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/orders/check", SALE | {"amount": "-19.99", "currency": "EUR"}, "amount"),
        ("/orders/check", SALE | {"amount": "19.99", "currency": "USB"}, "currency"),
        ("/orders/check", SALE | {"amount": "19.99"}, "currency"),
        ("/webshops", {"id": "w", "name": "W", "currencies": ["EUR", "CHR"]}, "currencies.1"),
        ("/webshops/shop-eu", {"currencies": ["USB"]}, "currencies.0"),
        ("/products/basic/plans/basic-1m", {"prices": {"EUR": "-9.99"}}, "prices.EUR"),
    ],
    ids=["negative", "usb", "amount-alone", "chr-webshop", "usb-webshop-edit", "negative-price"],
)
async def test_bad_money_is_refused_naming_the_field(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    method = "POST" if path in ("/orders/check", "/webshops") else "PATCH"
    assert _fields(await http.request(method, path, json=body)) == [field]


async def test_a_parked_refund_the_order_refuses_is_dead_lettered_and_the_order_applied(
    runtime: Runtime, db: Database
) -> None:
    refund = OrderRefundedV1(
        order_id="web-7",
        webshop_id="shop-eu",
        amount=Decimal("500.00"),
        currency="EUR",
        refunded_at=datetime(2025, 1, 3, tzinfo=UTC),
    )
    placed = CustomerOrderPlacedV1(
        customer_id="c-7",
        order=SubscriptionOrder(
            order_id="web-7", webshop_id="shop-eu", product_id="basic", plan_id="basic-1m"
        ),
        payment=OrderPayment(
            amount=Decimal("9.99"),
            currency="EUR",
            paid_at=datetime(2025, 1, 2, tzinfo=UTC),
            provider="card",
            reference="p-7",
        ),
    )
    consumer = runtime.consumer
    refund_record = consumer_record(topics.WEBSHOP_ORDERS, event_bytes(refund))
    assert await consumer.process(topics.WEBSHOP_ORDERS, refund_record) == "handled"
    placed_record = consumer_record(topics.CUSTOMERS_EVENTS, event_bytes(placed), offset=1)
    assert await consumer.process(topics.CUSTOMERS_EVENTS, placed_record) == "handled"

    [sent] = cast(RecordingProducer, consumer.producer).sent
    assert (sent.topic, sent.key) == (dlq(topics.WEBSHOP_ORDERS), b"web-7")
    assert sent.header("x-dlq-reason").startswith("parked order.refunded.v1 refused: refund of")
    assert sent.header("x-dlq-consumer") == "billing"
    # A CloudEvent billing's own consumer takes back: the dead-letter desk can replay it.
    replayed = CloudEvent.model_validate_json(sent.value or b"")
    assert replayed.type == "order.refunded.v1"
    assert OrderRefundedV1.model_validate(replayed.data) == refund
    assert sorted((e.kind, e.amount) for e in await ledger(db, "c-7")) == [
        ("charge", Decimal("9.99")),
        ("payment", Decimal("9.99")),
    ]


async def test_an_expiry_at_the_end_of_time_is_refused_and_a_renewal_past_it_is_a_422(
    http: httpx.AsyncClient, db: Database
) -> None:
    """9999-12-31 and then a renewal used to end in year 10000: a 500."""
    customer = "c-far-future"
    sold = await http.post(
        f"/customers/{customer}/subscription",
        json={"webshop_id": "shop-eu", "product_id": "basic", "plan_id": "basic-1m"},
    )
    assert sold.status_code in (200, 201), sold.text
    far = await http.put(
        f"/customers/{customer}/subscription/expiry",
        json={"expires_at": "9999-12-31T00:00:00Z", "reason": "lifetime"},
    )
    assert _fields(far) == ["expires_at"]
    # One stored before the cap existed: the renewal on top of it is refused by name.
    async with db.transaction() as session:
        await session.execute(
            update(Subscription)
            .where(Subscription.customer_id == customer)
            .values(expires_at=datetime(9999, 12, 31, tzinfo=UTC))
        )
    renewed = await http.post(
        f"/customers/{customer}/subscription/renew",
        json={"product_id": "basic", "plan_id": "basic-1m"},
    )
    assert _fields(renewed) == ["plan_id"]
    assert "year 9999" in renewed.json()["detail"]
