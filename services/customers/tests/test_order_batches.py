"""A partition's run of webshop orders (and of billing's answers) handled together through the
consumer: the same outcome as one by one (a buyer's second order finds the customer its first
created, a repeated order placed once, a taken login falling back to a generated one), in one
statement per table, and poison records dead-lettered without failing their neighbours."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import cast

import pytest
from aiokafka.structs import ConsumerRecord
from sqlalchemy import event, select

from services.contracts import topics
from services.contracts.billing import SubscriptionActivatedV1
from services.contracts.envelope import EventData
from services.contracts.webshop import Buyer, Credentials, OrderPaidV1, Payment
from services.customers import credentials, models
from services.customers.app import SPEC
from services.customers.models import Account, Customer, WebshopOrder
from services.runtime.db import Database
from services.runtime.service_app import Runtime
from services.runtime.tests._helpers import (
    RecordingProducer,
    consumer_record,
    envelope_bytes,
    event_bytes,
    of_type,
    outbox_rows,
    service_runtime,
)

CREATED = "customer.created.v1"
PLACED = "customer.order_placed.v1"
ACCEPTED = "order.accepted.v1"
REJECTED = "order.rejected.v1"


@pytest.fixture
async def runtime(db: Database) -> AsyncIterator[Runtime]:
    async with service_runtime(SPEC, db) as rt:
        yield rt


def paid(
    order_id: str, external_id: str, *, creds: Credentials | None = None, amount: str = "9.99"
) -> OrderPaidV1:
    return OrderPaidV1(
        order_id=order_id,
        webshop_id="shop-eu",
        buyer=Buyer(
            external_id=external_id,
            email=f"{external_id}@example.com",
            first_name="Ann",
            last_name=external_id.title(),
        ),
        product_id="basic",
        plan_id="basic-1m",
        amount=Decimal(amount),
        currency="EUR",
        paid_at=datetime(2025, 1, 2, tzinfo=UTC),
        payment=Payment(provider="stripe", reference=f"pay-{order_id}"),
        credentials=creds,
    )


class Records:
    """Hand-built records of one partition; `again` repeats one (the same event id)."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.records: list[ConsumerRecord[bytes, bytes]] = []

    def add(self, data: EventData) -> bytes:
        raw = event_bytes(data)
        self.again(raw)
        return raw

    def again(self, raw: bytes) -> None:
        offset = len(self.records)
        self.records.append(consumer_record(self.topic, raw, offset=offset))


def statements_on(db: Database) -> list[str]:
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    return statements


def dead_letters(runtime: Runtime) -> RecordingProducer:
    return cast(RecordingProducer, runtime.consumer.producer)


async def test_a_batch_of_orders_ends_as_one_by_one_would_leave_it(
    db: Database, runtime: Runtime
) -> None:
    earlier = Records(topics.WEBSHOP_ORDERS)
    earlier.add(paid("r-0", "returning", creds=Credentials(login="Ret.Login", password="s3cret!")))
    await runtime.consumer.process_batch(earlier.records)
    [returning] = [
        r.data["customer_id"] for r in of_type(await outbox_rows(db, models.outbox), PLACED)
    ]
    statements = statements_on(runtime.db)
    batch = Records(topics.WEBSHOP_ORDERS)
    first = batch.add(paid("a-1", "ann"))
    batch.add(paid("a-2", "ann"))  # her renewal, in the same batch
    batch.add(paid("r-1", "returning"))
    batch.again(first)  # redelivered: the same event id
    batch.add(paid("b-1", "bob", creds=Credentials(login="ret.login", password="taken!!")))
    batch.add(paid("c-1", "cy", creds=Credentials(login="cy.login", password="cy-pass")))
    batch.again(b"{not json")
    invalid = envelope_bytes(
        OrderPaidV1.event_type,
        paid("bad-1", "dan").model_dump(mode="json") | {"amount": "-1"},
        event_id="e-bad",
    )
    batch.again(invalid)
    batch.add(paid("a-1", "ann"))  # the webshop resent it under a new event id

    await runtime.consumer.process_batch(batch.records)

    rows = await outbox_rows(db, models.outbox)
    placed = [(r.data["order"]["order_id"], r.data["customer_id"]) for r in of_type(rows, PLACED)]
    assert [order_id for order_id, _ in placed] == ["r-0", "a-1", "a-2", "r-1", "b-1", "c-1"]
    ann = placed[1][1]
    assert placed[2][1] == ann and placed[3][1] == returning
    created = of_type(rows, CREATED)
    assert len(created) == 4  # the returning buyer, Ann, Bob, Cy
    # Each customer's created comes before its order.
    order = [(r.type, r.key) for r in rows if r.type in (CREATED, PLACED)]
    assert order.index((CREATED, ann)) < order.index((PLACED, ann))
    async with db.sessions() as session:
        accounts = {
            c.external_id: a
            for c, a in await session.execute(
                select(Customer, Account).join(Account, Account.customer_id == Customer.id)
            )
        }
        orders = {o.order_id: o for o in await session.scalars(select(WebshopOrder))}
    assert set(accounts) == {"returning", "ann", "bob", "cy"}
    assert accounts["cy"].login == "cy.login"
    assert credentials.verify_password(accounts["cy"].password_hash, "cy-pass")
    # Bob's login is taken (ignoring case): he gets generated credentials.
    assert accounts["bob"].login.isdigit() and accounts["bob"].login_generated
    assert credentials.verify_password(
        accounts["ann"].password_hash, orders["a-1"].generated_password or ""
    )
    assert orders["a-2"].generated_password is None  # a returning buyer gets no new password
    assert sorted(orders) == ["a-1", "a-2", "b-1", "c-1", "r-0", "r-1"]
    [rejected] = of_type(rows, REJECTED)
    assert (rejected.data["order_id"], rejected.data["code"]) == ("bad-1", "invalid_order")
    assert [d.value for d in dead_letters(runtime).sent] == [b"{not json", invalid]
    # Set-based: the new buyers (in one run before the invalid record) in one insert each.
    customer_inserts = [s for s in statements if s.startswith("INSERT INTO customer ")]
    account_inserts = [s for s in statements if s.startswith("INSERT INTO account ")]
    assert len(customer_inserts) == 1 and len(account_inserts) == 1, statements


async def test_billing_answers_of_a_batch_reply_once_per_order(
    db: Database, runtime: Runtime
) -> None:
    orders = Records(topics.WEBSHOP_ORDERS)
    orders.add(paid("a-1", "ann"))
    orders.add(paid("a-2", "ann"))
    orders.add(paid("b-1", "bob"))
    await runtime.consumer.process_batch(orders.records)
    placed = {
        r.data["order"]["order_id"]: r.data["customer_id"]
        for r in of_type(await outbox_rows(db, models.outbox), PLACED)
    }
    statements = statements_on(runtime.db)
    answers = Records(topics.BILLING_EVENTS)
    repeated = b""
    for order_id, months in (("a-1", 2), ("a-2", 3), ("b-1", 2)):
        raw = answers.add(activated(placed[order_id], order_id, months))
        repeated = repeated or raw
    answers.again(repeated)

    await runtime.consumer.process_batch(answers.records)

    rows = of_type(await outbox_rows(db, models.outbox), ACCEPTED)
    replies = [(r.data["order_id"], r.data["password"] is not None) for r in rows]
    assert replies == [("a-1", True), ("a-2", False), ("b-1", True)]
    async with db.sessions() as session:
        ann = await session.get(Customer, placed["a-1"])
        left = (await session.scalars(select(WebshopOrder.generated_password))).all()
    assert ann is not None and ann.status == "active"
    assert ann.expires_at == datetime(2025, 3, 2, tzinfo=UTC)  # the later of her two answers
    assert left == [None, None, None]
    order_reads = [s for s in statements if s.startswith("SELECT") and "FROM webshop_order" in s]
    assert len(order_reads) == 1, statements


def activated(customer_id: str, order_id: str, month: int) -> SubscriptionActivatedV1:
    return SubscriptionActivatedV1(
        customer_id=customer_id,
        subscription_id=customer_id,  # any id of 36 characters
        order_id=order_id,
        action="opened",
        webshop_id="shop-eu",
        product_id="basic",
        plan_id="basic-1m",
        extra_product_ids=[],
        status="active",
        starts_at=datetime(2025, 1, 2, tzinfo=UTC),
        expires_at=datetime(2025, month, 2, tzinfo=UTC),
        max_devices=2,
    )
