"""Messages to customers: an operator's (to all devices or one), the expiring and expired
system messages (one per subscription period), the read state from the apps, and the contact
kept current by customer.updated."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from services.contracts import topics
from services.contracts.apps import MessageReadV1
from services.contracts.billing import SubscriptionExpiredV1, SubscriptionExpiringV1
from services.contracts.customers import CustomerCreatedV1, CustomerInfo, CustomerUpdatedV1
from services.runtime.consumer import PoisonMessage
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.tests._helpers import (
    consumer_record,
    event_bytes,
    of_type,
    outbox_rows,
    service_runtime,
)
from services.tickets import models, service
from services.tickets.app import SPEC
from services.tickets.models import CustomerContact, Message
from services.tickets.schemas import MessageCreate, MessagePublic

CUSTOMER = "c0ffee00-0000-4000-8000-000000000001"
OTHER = "c0ffee00-0000-4000-8000-000000000002"
EXPIRES = datetime(2026, 12, 24, 10, tzinfo=UTC)
READ_AT = datetime(2026, 11, 28, 12, tzinfo=UTC)


def info(first_name: str = "Jane", email: str = "jane@example.com") -> CustomerInfo:
    return CustomerInfo(first_name=first_name, last_name="Doe", email=email)


async def remember(db: Database, outbox: Outbox) -> None:
    async with db.transaction() as session:
        await service.remember_customer(
            session,
            outbox,
            CustomerCreatedV1(
                customer_id=CUSTOMER,
                source="manual",
                webshop_id="shop-eu",
                login="jane",
                info=info(),
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
                order=None,
            ),
        )


async def send(db: Database, outbox: Outbox, device_id: str | None = None) -> MessagePublic:
    async with db.transaction() as session:
        return await service.send_operator_message(
            session,
            outbox,
            CUSTOMER,
            MessageCreate(
                title="Maintenance", body="Tonight 2-4 am", device_id=device_id, sent_by="alice"
            ),
        )


async def read(
    db: Database, message_id: str, customer_id: str = CUSTOMER, at: datetime = READ_AT
) -> None:
    async with db.transaction() as session:
        await service.mark_read(
            session, MessageReadV1(customer_id=customer_id, message_id=message_id, read_at=at)
        )


async def messages(db: Database) -> list[Message]:
    async with db.sessions() as session:
        return list((await session.scalars(select(Message).order_by(Message.sent_at))).all())


def expiring(days_left: int = 7, expires_at: datetime = EXPIRES) -> SubscriptionExpiringV1:
    return SubscriptionExpiringV1(
        customer_id=CUSTOMER,
        subscription_id="sub-1",
        product_id="premium",
        expires_at=expires_at,
        days_left=days_left,
    )


def expired(expired_at: datetime = EXPIRES) -> SubscriptionExpiredV1:
    return SubscriptionExpiredV1(
        customer_id=CUSTOMER, subscription_id="sub-1", product_id="premium", expired_at=expired_at
    )


async def test_an_operator_message_goes_to_one_device_as_message_show(
    db: Database, outbox: Outbox
) -> None:
    sent = await send(db, outbox, device_id="stb-1")

    assert (sent.status, sent.sent_by, sent.device_id, sent.template) == (
        "sent",
        "alice",
        "stb-1",
        None,
    )
    rows = await outbox_rows(db, models.outbox)
    [show] = of_type(rows, "message.show.v1")
    assert (show.topic, show.key) == (topics.APPS_COMMANDS, CUSTOMER)
    assert show.data["device_id"] == "stb-1"
    assert show.data["message_id"] == sent.id
    assert show.data["ticket_id"] is None
    [announced] = of_type(rows, "message.sent.v1")
    assert announced.topic == topics.TICKETS_EVENTS


async def test_a_message_turns_read_once(db: Database, outbox: Outbox) -> None:
    sent = await send(db, outbox)

    await read(db, sent.id)
    await read(db, sent.id, at=datetime(2026, 11, 29, tzinfo=UTC))  # another device reads it

    [message] = await messages(db)
    assert (message.status, message.read_at) == ("read", READ_AT)


async def test_a_read_report_of_an_unknown_or_foreign_message_is_poison(
    db: Database, outbox: Outbox
) -> None:
    sent = await send(db, outbox)

    with pytest.raises(PoisonMessage, match="unknown message id"):
        await read(db, "no-such-message")
    with pytest.raises(PoisonMessage, match="was not sent to customer"):
        await read(db, sent.id, customer_id=OTHER)
    [message] = await messages(db)
    assert message.status == "sent"


async def test_a_read_report_through_the_consumer(db: Database, outbox: Outbox) -> None:
    sent = await send(db, outbox)
    async with service_runtime(SPEC, db) as rt:
        good = consumer_record(
            topics.APPS_EVENTS,
            event_bytes(MessageReadV1(customer_id=CUSTOMER, message_id=sent.id, read_at=READ_AT)),
        )
        unknown = consumer_record(
            topics.APPS_EVENTS,
            event_bytes(MessageReadV1(customer_id=CUSTOMER, message_id="nope", read_at=READ_AT)),
        )
        assert await rt.consumer.process(topics.APPS_EVENTS, good) == "handled"
        assert await rt.consumer.process(topics.APPS_EVENTS, good) == "duplicate"
        assert await rt.consumer.process(topics.APPS_EVENTS, unknown) == "dead_lettered"
        [dead] = rt.consumer.producer.sent  # type: ignore[attr-defined]
    assert dead.topic == topics.dlq(topics.APPS_EVENTS)
    assert "unknown message id 'nope'" in dead.header("x-dlq-reason")
    [message] = await messages(db)
    assert message.status == "read"


async def test_expiring_and_expired_messages_are_sent_once_per_period(
    db: Database, outbox: Outbox
) -> None:
    await remember(db, outbox)
    later = datetime(2027, 1, 24, 10, tzinfo=UTC)
    async with db.transaction() as session:
        await service.message_on_expiring(session, outbox, expiring())
        await service.message_on_expiring(session, outbox, expiring())  # billing re-sent it
        await service.message_on_expired(session, outbox, expired())
        await service.message_on_expired(session, outbox, expired())
        await service.message_on_expiring(session, outbox, expiring(expires_at=later))

    sent = await messages(db)
    assert [m.template for m in sent] == ["expiring", "expired", "expiring"]
    soon, ended, next_period = sent
    assert soon.title == "Your subscription ends soon"
    assert "Hello Jane" in soon.body and "2026-12-24" in soon.body and "7 days" in soon.body
    assert ended.title == "Your subscription has ended"
    assert "premium" in ended.body and "2026-12-24" in ended.body
    assert "2027-01-24" in next_period.body
    shows = of_type(await outbox_rows(db, models.outbox), "message.show.v1")
    assert [s.data["message_id"] for s in shows] == [m.id for m in sent]


async def test_an_expiring_message_counts_one_day_in_the_singular(
    db: Database, outbox: Outbox
) -> None:
    await remember(db, outbox)
    async with db.transaction() as session:
        await service.message_on_expiring(session, outbox, expiring(days_left=1))

    [message] = await messages(db)
    assert "(1 day left)" in message.body


async def test_an_expiring_message_without_a_known_name_still_goes_out(
    db: Database, outbox: Outbox
) -> None:
    async with db.transaction() as session:
        await service.message_on_expiring(session, outbox, expiring())

    [message] = await messages(db)
    assert message.body.startswith("Hello there,")


async def test_customer_updated_keeps_the_contact_current(db: Database, outbox: Outbox) -> None:
    await remember(db, outbox)
    async with db.transaction() as session:
        await service.update_customer(
            session,
            CustomerUpdatedV1(
                customer_id=CUSTOMER,
                webshop_id="shop-eu",
                info=info(first_name="Janet", email="janet@example.com"),
                changed_fields=["first_name", "email"],
                updated_at=datetime(2026, 11, 28, tzinfo=UTC),
            ),
        )
        await service.message_on_expired(session, outbox, expired())

    async with db.sessions() as session:
        contact = await session.get(CustomerContact, CUSTOMER)
    assert contact is not None
    assert (contact.first_name, contact.last_name, contact.email) == (
        "Janet",
        "Doe",
        "janet@example.com",
    )
    [message] = await messages(db)
    assert "Hello Janet" in message.body


async def test_the_history_shows_system_and_operator_messages_newest_first(
    db: Database, outbox: Outbox
) -> None:
    await remember(db, outbox)
    async with db.transaction() as session:
        await service.message_on_expiring(session, outbox, expiring())
    operator = await send(db, outbox)
    await read(db, operator.id)

    async with db.sessions() as session:
        page = await service.list_messages(session, CUSTOMER, limit=1, cursor=None)
        rest = await service.list_messages(session, CUSTOMER, limit=1, cursor=page.next_cursor)
    assert [(m.id, m.status, m.read_at) for m in page.items] == [(operator.id, "read", READ_AT)]
    assert [(m.template, m.status, m.read_at) for m in rest.items] == [("expiring", "sent", None)]
    assert rest.next_cursor is None
