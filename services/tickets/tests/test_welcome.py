"""The welcome message: sent once per customer when their first subscription opens, as
message.show for the TV apps and message.sent for everyone else."""

from datetime import UTC, datetime
from typing import cast

from sqlalchemy import select

from services.contracts import topics
from services.contracts.billing import SubscriptionAction, SubscriptionActivatedV1
from services.contracts.customers import CustomerCreatedV1, CustomerInfo, CustomerUpdatedV1
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.tests._helpers import (
    RecordingProducer,
    consumer_record,
    envelope_bytes,
    event_bytes,
    of_type,
    outbox_rows,
    service_runtime,
)
from services.tickets import erasure, models, service
from services.tickets.app import SPEC
from services.tickets.models import Message

CUSTOMER = "c0ffee00-0000-4000-8000-000000000001"
SHOW = "message.show.v1"
SENT = "message.sent.v1"


def activated(action: SubscriptionAction = "opened") -> SubscriptionActivatedV1:
    return SubscriptionActivatedV1(
        customer_id=CUSTOMER,
        subscription_id="sub-1",
        order_id="order-1",
        action=action,
        webshop_id="shop-eu",
        product_id="premium",
        plan_id="premium-1m",
        extra_product_ids=[],
        status="active",
        starts_at=datetime(2025, 1, 1, tzinfo=UTC),
        expires_at=datetime(2025, 2, 1, tzinfo=UTC),
        max_devices=5,
    )


CREATED = CustomerCreatedV1(
    customer_id=CUSTOMER,
    source="manual",
    webshop_id="shop-eu",
    login="jane",
    info=CustomerInfo(first_name="Jane", last_name="Doe", email="jane@example.com"),
    created_at=datetime(2025, 1, 1, tzinfo=UTC),
    order=None,
)


async def messages(db: Database) -> list[Message]:
    async with db.sessions() as session:
        return list((await session.scalars(select(Message))).all())


async def remember(db: Database, outbox: Outbox) -> None:
    async with db.transaction() as session:
        await service.remember_customer(session, outbox, CREATED)


async def welcome(db: Database, outbox: Outbox, event: SubscriptionActivatedV1) -> None:
    async with db.transaction() as session:
        await service.welcome_on_first_subscription(session, outbox, event)


async def test_the_first_subscription_sends_the_welcome_message(
    db: Database, outbox: Outbox
) -> None:
    await remember(db, outbox)

    await welcome(db, outbox, activated())

    [message] = await messages(db)
    assert (message.customer_id, message.template, message.channel, message.status) == (
        CUSTOMER,
        "welcome",
        "in_app",
        "sent",
    )
    assert message.title == "Welcome, Jane!"
    assert "premium" in message.body
    rows = await outbox_rows(db, models.outbox)
    assert [r.type for r in rows] == [SHOW, SENT]
    show, sent = rows
    assert (show.topic, show.key) == (topics.APPS_COMMANDS, CUSTOMER)
    assert show.data["message_id"] == message.id
    assert (show.data["title"], show.data["body"]) == (message.title, message.body)
    assert (sent.topic, sent.key) == (topics.TICKETS_EVENTS, CUSTOMER)
    assert (sent.data["message_id"], sent.data["template"]) == (message.id, "welcome")


async def test_a_subscription_that_arrives_before_the_customer_waits_for_the_name(
    db: Database, outbox: Outbox
) -> None:
    # customer.created and subscription.activated travel on different topics: either may win.
    await welcome(db, outbox, activated())
    assert await messages(db) == []

    await remember(db, outbox)

    [message] = await messages(db)
    assert message.title == "Welcome, Jane!"
    assert "premium" in message.body
    await remember(db, outbox)  # customer.created again: no second welcome
    assert len(await messages(db)) == 1


async def test_the_welcome_message_is_sent_once_per_customer(db: Database, outbox: Outbox) -> None:
    await remember(db, outbox)
    await welcome(db, outbox, activated())
    await welcome(db, outbox, activated())  # billing's event again, under a new event id
    await welcome(db, outbox, activated("changed"))
    await welcome(db, outbox, activated("renewed"))

    assert len(await messages(db)) == 1
    assert len(of_type(await outbox_rows(db, models.outbox), SHOW)) == 1


async def test_a_renewal_sends_no_welcome(db: Database, outbox: Outbox) -> None:
    await remember(db, outbox)
    await welcome(db, outbox, activated("renewed"))

    assert await messages(db) == []
    assert await outbox_rows(db, models.outbox) == []


async def test_replayed_events_through_the_consumer_welcome_once(db: Database) -> None:
    async with service_runtime(SPEC, db) as rt:
        created = consumer_record(topics.CUSTOMERS_EVENTS, event_bytes(CREATED))
        opened = consumer_record(topics.BILLING_EVENTS, event_bytes(activated(), event_id="a-1"))
        opened_again = consumer_record(
            topics.BILLING_EVENTS, event_bytes(activated(), event_id="a-2")
        )

        assert await rt.consumer.process(topics.CUSTOMERS_EVENTS, created) == "handled"
        assert await rt.consumer.process(topics.BILLING_EVENTS, opened) == "handled"
        assert await rt.consumer.process(topics.BILLING_EVENTS, opened) == "duplicate"
        assert await rt.consumer.process(topics.BILLING_EVENTS, opened_again) == "handled"

    [message] = await messages(db)
    assert message.title == "Welcome, Jane!"
    rows = await outbox_rows(db, models.outbox)
    assert [r.type for r in rows] == [SHOW, SENT]
    assert rows[0].event.source == "/services/tickets"


async def test_a_batch_of_activations_welcomes_each_new_customer_once(db: Database) -> None:
    """A partition's run of subscription.activated together: renewals pass, a welcome goes out
    once however often the opening comes, an erased customer gets none, and a record whose
    payload breaks the schema goes to the dead-letter topic without its neighbours."""
    erased = "c0ffee00-0000-4000-8000-000000000002"
    async with db.transaction() as session:
        await erasure.erase_customer(session, erased, datetime(2025, 1, 2, tzinfo=UTC))
    async with service_runtime(SPEC, db) as rt:
        created = consumer_record(topics.CUSTOMERS_EVENTS, event_bytes(CREATED))
        assert await rt.consumer.process(topics.CUSTOMERS_EVENTS, created) == "handled"
        opened = event_bytes(activated(), event_id="a-1")
        values = [
            event_bytes(activated("renewed"), event_id="a-0"),  # before the opening: no welcome
            opened,
            opened,  # the same event twice in one poll
            event_bytes(activated(), event_id="a-2"),  # billing's opening again, a new id
            event_bytes(activated().model_copy(update={"customer_id": erased}), event_id="a-3"),
            envelope_bytes("subscription.activated.v1", {"customer_id": CUSTOMER}, event_id="p"),
            event_bytes(activated("renewed"), event_id="a-4"),
        ]
        records = [
            consumer_record(topics.BILLING_EVENTS, value, offset=i)
            for i, value in enumerate(values)
        ]
        await rt.consumer.process_batch(records)
        [poison] = cast(RecordingProducer, rt.consumer.producer).sent
        assert "violates its schema" in poison.header("x-dlq-reason")

    [message] = await messages(db)
    assert (message.customer_id, message.title) == (CUSTOMER, "Welcome, Jane!")
    assert [r.type for r in await outbox_rows(db, models.outbox)] == [SHOW, SENT]


async def test_a_batch_of_customer_news_applies_each_customers_in_order(db: Database) -> None:
    """customer.created and customer.updated, a partition's run together: the last name in
    arrival order stays, a welcome that waited goes out once, an erased customer is not brought
    back, a record whose payload breaks the schema is dead-lettered alone."""
    erased = "c0ffee00-0000-4000-8000-000000000002"
    async with db.transaction() as session:
        await erasure.erase_customer(session, erased, datetime(2025, 1, 2, tzinfo=UTC))
    async with service_runtime(SPEC, db) as rt:
        opened = consumer_record(topics.BILLING_EVENTS, event_bytes(activated()))
        assert await rt.consumer.process(topics.BILLING_EVENTS, opened) == "handled"
        renamed = CustomerUpdatedV1(
            customer_id=CUSTOMER,
            webshop_id="shop-eu",
            info=CustomerInfo(first_name="Janet", last_name="Doe"),
            changed_fields=["first_name"],
            updated_at=datetime(2025, 1, 3, tzinfo=UTC),
        )
        created = event_bytes(CREATED, event_id="c-1")
        values = [
            created,
            created,  # the same event twice in one poll
            event_bytes(CREATED, event_id="c-3"),  # created again: no second welcome
            event_bytes(renamed, event_id="u-1"),  # renamed in the same run: the name stays
            event_bytes(CREATED.model_copy(update={"customer_id": erased}), event_id="c-2"),
            envelope_bytes("customer.updated.v1", {"customer_id": CUSTOMER}, event_id="p"),
        ]
        records = [
            consumer_record(topics.CUSTOMERS_EVENTS, value, offset=i)
            for i, value in enumerate(values)
        ]
        await rt.consumer.process_batch(records)
        [poison] = cast(RecordingProducer, rt.consumer.producer).sent
        assert "violates its schema" in poison.header("x-dlq-reason")

    [message] = await messages(db)
    assert (message.customer_id, message.title) == (CUSTOMER, "Welcome, Jane!")
    async with db.sessions() as session:
        contacts = {
            c.customer_id: (c.first_name, c.erased_at is not None, c.welcome_product_id)
            for c in (await session.scalars(select(models.CustomerContact))).all()
        }
    assert contacts == {CUSTOMER: ("Janet", False, None), erased: (None, True, None)}
