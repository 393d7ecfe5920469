"""A partition's run of orders (customer.order_placed, customer.created with an operator's
sale) applied together through the consumer: the same outcome as one by one (one customer's
renewals each from the expiry the one before left, an underpaid order refused alone, a
repeated order recorded once), the subscriptions read with one select, and a poison record
dead-lettered without failing its neighbours."""

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import cast

import pytest
from aiokafka.structs import ConsumerRecord
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from services.billing import models
from services.billing.app import SPEC
from services.billing.models import LedgerTransaction, Subscription, SubscriptionHistory
from services.contracts import topics
from services.contracts.customers import (
    CustomerCreatedV1,
    CustomerInfo,
    CustomerOrderPlacedV1,
    OrderPayment,
    SubscriptionOrder,
)
from services.contracts.envelope import EventData
from services.runtime.db import Database
from services.runtime.service_app import Runtime
from services.runtime.tests._helpers import (
    RecordingProducer,
    consumer_record,
    event_bytes,
    of_type,
    outbox_rows,
    service_runtime,
)

ANN = "c0ffee00-0000-4000-8000-00000000000a"
BOB = "c0ffee00-0000-4000-8000-00000000000b"
CY = "c0ffee00-0000-4000-8000-00000000000c"
DEE = "c0ffee00-0000-4000-8000-00000000000d"


@pytest.fixture
async def runtime(db: Database) -> AsyncIterator[Runtime]:
    async with service_runtime(SPEC, db) as rt:
        yield rt


def sold(order_id: str) -> SubscriptionOrder:
    return SubscriptionOrder(
        order_id=order_id, webshop_id="shop-eu", product_id="basic", plan_id="basic-1m"
    )


def placed(
    customer_id: str, order_id: str, amount: str = "9.99", product: str = "basic"
) -> CustomerOrderPlacedV1:
    order = sold(order_id)
    if product != "basic":
        order = order.model_copy(update={"product_id": product, "plan_id": f"{product}-7d"})
    return CustomerOrderPlacedV1(
        customer_id=customer_id,
        order=order,
        payment=OrderPayment(
            amount=Decimal(amount),
            currency="EUR",
            paid_at=datetime(2025, 1, 2, tzinfo=UTC),
            provider="stripe",
            reference=f"pay-{order_id}",
        ),
    )


def created(customer_id: str, order: SubscriptionOrder | None) -> CustomerCreatedV1:
    return CustomerCreatedV1(
        customer_id=customer_id,
        source="webshop" if order is None else "manual",
        webshop_id="shop-eu",
        login=customer_id[-4:] + "0000",
        info=CustomerInfo(first_name="A", last_name="Buyer"),
        created_at=datetime(2025, 1, 2, tzinfo=UTC),
        order=order,
    )


class Records:
    def __init__(self) -> None:
        self.records: list[ConsumerRecord[bytes, bytes]] = []

    def add(self, data: EventData) -> bytes:
        raw = event_bytes(data)
        self.again(raw)
        return raw

    def again(self, raw: bytes) -> None:
        offset = len(self.records)
        self.records.append(consumer_record(topics.CUSTOMERS_EVENTS, raw, offset=offset))


@pytest.fixture
def flushed_objects() -> Iterator[list[type]]:
    """The types of the ORM objects every session flushes while the test runs."""
    flushed: list[type] = []

    def seen(session: Session, *_: object) -> None:
        flushed.extend(type(o) for o in session.new)

    event.listen(Session, "before_flush", seen)
    yield flushed
    event.remove(Session, "before_flush", seen)


def statements_on(db: Database) -> list[str]:
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    return statements


async def test_a_batch_of_orders_ends_as_one_by_one_would_leave_it(
    db: Database, runtime: Runtime, flushed_objects: list[type]
) -> None:
    statements = statements_on(runtime.db)
    batch = Records()
    batch.add(created(ANN, None))  # a webshop's new buyer: the order follows
    first = batch.add(placed(ANN, "o-1"))
    batch.add(placed(ANN, "o-2"))
    batch.add(placed(ANN, "o-3"))
    batch.add(placed(BOB, "o-4", amount="1.00"))  # underpaid
    batch.add(placed(CY, "o-5"))
    batch.add(placed(CY, "o-5"))  # the same order under another event id
    batch.again(first)  # redelivered: the same event id
    batch.again(b'{"specversion": "1.0"')
    batch.add(created(DEE, sold("op-1")))  # an operator's sale, owed until paid

    await runtime.consumer.process_batch(batch.records)

    rows = await outbox_rows(db, models.outbox)
    actions = [(r.key, r.data["action"]) for r in of_type(rows, "subscription.activated.v1")]
    assert actions == [
        (ANN, "opened"),
        (ANN, "renewed"),
        (ANN, "renewed"),
        (CY, "opened"),
        (DEE, "opened"),
    ]
    [rejected] = of_type(rows, "subscription.rejected.v1")
    assert (rejected.key, rejected.data["code"]) == (BOB, "amount_mismatch")
    async with db.sessions() as session:
        ledger = (
            await session.scalars(
                select(LedgerTransaction).order_by(
                    LedgerTransaction.customer_id, LedgerTransaction.period_ends_at
                )
            )
        ).all()
        subscriptions = {s.customer_id: s for s in await session.scalars(select(Subscription))}
    entries = [(e.customer_id, e.order_id, e.kind) for e in ledger]
    assert sorted(entries) == sorted(
        [(ANN, f"o-{n}", kind) for n in (1, 2, 3) for kind in ("charge", "payment")]
        + [(CY, "o-5", "charge"), (CY, "o-5", "payment"), (DEE, "op-1", "charge")]
    )
    # Each renewal runs from the expiry the one before it left.
    ann = [e for e in ledger if e.customer_id == ANN and e.kind == "charge"]
    assert [e.order_id for e in ann] == ["o-1", "o-2", "o-3"]
    assert ann[1].period_starts_at == ann[0].period_ends_at
    assert ann[2].period_starts_at == ann[1].period_ends_at
    assert subscriptions[ANN].expires_at == ann[2].period_ends_at
    assert subscriptions[ANN].version == 3
    assert set(subscriptions) == {ANN, CY, DEE}
    dead = cast(RecordingProducer, runtime.consumer.producer).sent
    assert [d.value for d in dead] == [b'{"specversion": "1.0"']
    # Set-based: the customers' subscriptions read once, the ledger written in one statement.
    reads = [s for s in statements if s.startswith("SELECT subscription.id")]
    ledger_writes = [s for s in statements if s.startswith("INSERT INTO ledger_transaction")]
    assert len(reads) == 1 and len(ledger_writes) == 1, statements
    # The ledger and the timeline are rows of Core inserts, not ORM objects in the flush.
    history_writes = [s for s in statements if s.startswith("INSERT INTO subscription_history")]
    assert len(history_writes) == 1, statements
    assert LedgerTransaction not in flushed_objects
    assert SubscriptionHistory not in flushed_objects


async def test_a_second_trial_in_the_same_batch_is_refused(db: Database, runtime: Runtime) -> None:
    # The trial check reads the ledger: the batch's own earlier trial must be in it by then.
    batch = Records()
    batch.add(placed(ANN, "t-1", amount="0", product="trial"))
    batch.add(placed(ANN, "t-2", amount="0", product="trial"))

    await runtime.consumer.process_batch(batch.records)

    rows = await outbox_rows(db, models.outbox)
    assert [r.data["action"] for r in of_type(rows, "subscription.activated.v1")] == ["opened"]
    [rejected] = of_type(rows, "subscription.rejected.v1")
    assert (rejected.data["order_id"], rejected.data["code"]) == ("t-2", "not_for_sale")
    assert "already had the trial" in rejected.data["reason"]
    async with db.sessions() as session:
        orders = set(await session.scalars(select(LedgerTransaction.order_id)))
    assert orders == {"t-1"}
