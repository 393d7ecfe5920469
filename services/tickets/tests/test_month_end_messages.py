"""A month end's expiring and expired messages, a partition's batch at a time: the same
messages as one by one (once per period, none to an erased customer, by name where known), in
one insert per stretch of one kind instead of reads and an insert per event."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import event, select

from services.contracts import topics
from services.contracts.billing import SubscriptionExpiredV1, SubscriptionExpiringV1
from services.contracts.customers import CustomerCreatedV1, CustomerInfo
from services.contracts.envelope import CloudEvent
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.tests._helpers import (
    consumer_record,
    event_bytes,
    of_type,
    outbox_rows,
    service_runtime,
)
from services.tickets import erasure, models, service
from services.tickets.app import SPEC
from services.tickets.models import Message

JANE, BOB, GONE, UNKNOWN = (f"c0ffee00-0000-4000-8000-00000000020{i}" for i in range(4))
ENDED = datetime(2026, 12, 24, 10, tzinfo=UTC)


def expired(customer_id: str) -> SubscriptionExpiredV1:
    return SubscriptionExpiredV1(
        customer_id=customer_id, subscription_id="sub-1", product_id="basic", expired_at=ENDED
    )


def expiring(customer_id: str) -> SubscriptionExpiringV1:
    return SubscriptionExpiringV1(
        customer_id=customer_id,
        subscription_id="sub-1",
        product_id="basic",
        expires_at=ENDED + timedelta(days=30),
        days_left=3,
    )


async def test_a_batch_of_period_ends_sends_each_message_once(db: Database, outbox: Outbox) -> None:
    async with db.transaction() as session:
        for customer_id, name in ((JANE, "Jane"), (BOB, "Bob"), (GONE, "Gone")):
            await service.remember_customer(
                session,
                outbox,
                CustomerCreatedV1(
                    customer_id=customer_id,
                    source="manual",
                    webshop_id="shop-eu",
                    login=name.lower(),
                    info=CustomerInfo(first_name=name, last_name="Doe", email=f"{name}@x.org"),
                    created_at=ENDED - timedelta(days=60),
                    order=None,
                ),
            )
        await erasure.erase_customer(session, GONE, ENDED)
        # Sent before this batch, from an earlier delivery of the same billing event.
        await service.message_on_expired(session, outbox, expired(BOB))
    again = event_bytes(expired(JANE))
    values = [
        event_bytes(expired(JANE)),
        again,
        again,  # the same record delivered twice
        event_bytes(expired(JANE)),  # billing re-sent it under another id
        event_bytes(expired(BOB)),
        event_bytes(expired(GONE)),
        event_bytes(expiring(UNKNOWN)),
        event_bytes(expired(UNKNOWN)),
    ]
    records = [
        consumer_record(topics.BILLING_EVENTS, value, offset=i) for i, value in enumerate(values)
    ]
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(" ".join(statement.split()[:3]).upper())

    async with service_runtime(SPEC, db) as rt:
        event.listen(rt.db.engine.sync_engine, "before_cursor_execute", seen)
        try:
            await rt.consumer.process_batch(records)
        finally:
            event.remove(rt.db.engine.sync_engine, "before_cursor_execute", seen)

    async with db.sessions() as session:
        sent = (
            await session.execute(
                select(Message.customer_id, Message.template, Message.body).order_by(
                    Message.customer_id, Message.template
                )
            )
        ).all()
    assert [(c, t) for c, t, _ in sent] == [
        (JANE, "expired"),
        (BOB, "expired"),
        (UNKNOWN, "expired"),
        (UNKNOWN, "expiring"),
    ]
    bodies = {(c, t): b for c, t, b in sent}
    assert bodies[(JANE, "expired")].startswith("Hello Jane, your basic subscription ended")
    assert bodies[(UNKNOWN, "expiring")].startswith("Hello there,")
    shows = of_type(await outbox_rows(db, models.outbox), "message.show.v1")
    # One each for this batch's new messages (Bob's was shown with the earlier delivery).
    assert sorted(s.key for s in shows) == sorted([JANE, BOB, UNKNOWN, UNKNOWN])
    # Set-based: three stretches of one kind (expired, expiring, expired), one insert each.
    assert statements.count("INSERT INTO MESSAGE") == 3
    assert not [s for s in statements if s.startswith("SELECT MESSAGE.ID")]


async def test_each_message_of_a_batch_continues_its_billing_events_trace(
    db: Database, outbox: Outbox
) -> None:
    """A month end is thousands of traces, one per subscription: the set-based handler still
    announces each message inside the span of the event it answers."""
    trace_of = {JANE: "1" * 32, BOB: "2" * 32, UNKNOWN: "3" * 32}
    events = [
        (expiring(JANE), JANE),
        (expiring(BOB), BOB),
        (expired(UNKNOWN), UNKNOWN),  # another stretch: its own insert, its own trace still
        (expiring(UNKNOWN), UNKNOWN),
    ]
    records = [
        consumer_record(
            topics.BILLING_EVENTS,
            CloudEvent.wrap(
                data,
                source="/services/billing",
                subject=None,
                # The two events of UNKNOWN in two traces of their own: the last digit tells.
                traceparent=f"00-{trace_of[customer][:-1]}{n}-{'a' * 16}-01",
            ).to_bytes(),
            offset=n,
        )
        for n, (data, customer) in enumerate(events)
    ]
    async with service_runtime(SPEC, db) as rt:
        await rt.consumer.process_batch(records)

    shows = of_type(await outbox_rows(db, models.outbox), "message.show.v1")
    traces = sorted((s.key, s.data["title"], (s.event.traceparent or "")[3:35]) for s in shows)
    assert traces == sorted(
        [
            (JANE, "Your subscription ends soon", "1" * 31 + "0"),
            (BOB, "Your subscription ends soon", "2" * 31 + "1"),
            (UNKNOWN, "Your subscription has ended", "3" * 31 + "2"),
            (UNKNOWN, "Your subscription ends soon", "3" * 31 + "3"),
        ]
    )
