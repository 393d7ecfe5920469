"""customer.erased: the customer's tickets, conversations and messages are deleted, the contact
keeps no personal data, late events bring nothing back, and a replay changes nothing."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from services.contracts import topics
from services.contracts.apps import MessageReadV1, TicketRepliedV1
from services.contracts.billing import SubscriptionExpiredV1
from services.contracts.customers import (
    CustomerCreatedV1,
    CustomerErasedV1,
    CustomerInfo,
    CustomerUpdatedV1,
)
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem
from services.runtime.tests._helpers import consumer_record, event_bytes, service_runtime
from services.tickets import conversations, erasure, service
from services.tickets.app import SPEC
from services.tickets.models import CustomerContact, Message, Ticket, TicketMessage
from services.tickets.schemas import MessageCreate, TicketCreate, TicketMessageCreate

CUSTOMER = "c0ffee00-0000-4000-8000-000000000001"
OTHER = "c0ffee00-0000-4000-8000-000000000002"
AT = datetime(2026, 11, 28, 12, tzinfo=UTC)


def created(customer_id: str) -> CustomerCreatedV1:
    return CustomerCreatedV1(
        customer_id=customer_id,
        source="manual",
        webshop_id="shop-eu",
        login=customer_id[-4:],
        info=CustomerInfo(first_name="Jane", last_name="Doe", email="jane@example.com"),
        created_at=AT,
        order=None,
    )


async def customer_with_history(db: Database, outbox: Outbox, customer_id: str) -> tuple[str, str]:
    """A contact, a ticket with a reply and a note, an operator message: (ticket, message) ids."""
    async with db.transaction() as session:
        await service.remember_customer(session, outbox, created(customer_id))
        ticket = await conversations.open_ticket(
            session, customer_id, TicketCreate(subject="Help", description="x", opened_by="al")
        )
        await conversations.add_operator_message(
            session,
            outbox,
            customer_id,
            ticket.id,
            TicketMessageCreate(body="On it", author="al"),
        )
        message = await service.send_operator_message(
            session, outbox, customer_id, MessageCreate(title="Hi", body="Hello", sent_by="al")
        )
    return ticket.id, message.id


async def count(
    db: Database, model: type[Ticket | TicketMessage | Message], customer_id: str
) -> int:
    async with db.sessions() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(model).where(model.customer_id == customer_id)
            )
            or 0
        )


async def test_erasure_deletes_the_customers_data_and_keeps_a_tombstone(
    db: Database, outbox: Outbox
) -> None:
    ticket_id, message_id = await customer_with_history(db, outbox, CUSTOMER)
    await customer_with_history(db, outbox, OTHER)
    erased = CustomerErasedV1(customer_id=CUSTOMER, erased_at=AT)

    async with service_runtime(SPEC, db) as rt:
        record = consumer_record(topics.CUSTOMERS_EVENTS, event_bytes(erased, event_id="erase-1"))
        again = consumer_record(topics.CUSTOMERS_EVENTS, event_bytes(erased, event_id="erase-2"))
        assert await rt.consumer.process(topics.CUSTOMERS_EVENTS, record) == "handled"
        assert await rt.consumer.process(topics.CUSTOMERS_EVENTS, record) == "duplicate"
        # Erased again under a new event id: nothing left to change.
        assert await rt.consumer.process(topics.CUSTOMERS_EVENTS, again) == "handled"

        for model in (Ticket, TicketMessage, Message):
            assert await count(db, model, CUSTOMER) == 0
            assert await count(db, model, OTHER) > 0
        async with db.sessions() as session:
            contact = await session.get(CustomerContact, CUSTOMER)
            assert contact is not None
            assert (contact.first_name, contact.last_name, contact.email) == (None, None, None)
            assert contact.erased_at == AT
            with pytest.raises(Problem) as raised:
                await conversations.get_ticket(session, CUSTOMER, ticket_id)
            assert raised.value.status == 404
            page = await service.list_messages(session, CUSTOMER, limit=10, cursor=None)
            assert page.items == []
            tickets = await conversations.list_tickets(session, customer_id=CUSTOMER)
            assert tickets.items == []

        # Late events about the erased customer are dropped quietly, not dead-lettered.
        late = [
            MessageReadV1(customer_id=CUSTOMER, message_id=message_id, read_at=AT),
            TicketRepliedV1(customer_id=CUSTOMER, ticket_id=ticket_id, body="?", replied_at=AT),
        ]
        for event in late:
            outcome = await rt.consumer.process(
                topics.APPS_EVENTS, consumer_record(topics.APPS_EVENTS, event_bytes(event))
            )
            assert outcome == "handled"
        for event in (
            created(CUSTOMER),
            CustomerUpdatedV1(
                customer_id=CUSTOMER,
                webshop_id="shop-eu",
                info=CustomerInfo(first_name="Jane", last_name="Doe"),
                changed_fields=["first_name"],
                updated_at=AT,
            ),
        ):
            await rt.consumer.process(
                topics.CUSTOMERS_EVENTS,
                consumer_record(topics.CUSTOMERS_EVENTS, event_bytes(event)),
            )
        expired = SubscriptionExpiredV1(
            customer_id=CUSTOMER, subscription_id="s", product_id="p", expired_at=AT
        )
        await rt.consumer.process(
            topics.BILLING_EVENTS, consumer_record(topics.BILLING_EVENTS, event_bytes(expired))
        )
        assert rt.consumer.producer.sent == []  # type: ignore[attr-defined]

    assert await count(db, Message, CUSTOMER) == 0
    async with db.sessions() as session:
        contact = await session.get(CustomerContact, CUSTOMER)
    assert contact is not None and contact.first_name is None


async def test_no_new_ticket_or_message_for_an_erased_customer(
    db: Database, outbox: Outbox
) -> None:
    async with db.transaction() as session:
        await erasure.erase_customer(session, CUSTOMER, AT)

    async with db.transaction() as session:
        with pytest.raises(Problem) as raised:
            await conversations.open_ticket(
                session, CUSTOMER, TicketCreate(subject="Help", opened_by="al")
            )
        assert raised.value.status == 404
        with pytest.raises(Problem) as raised:
            await service.send_operator_message(
                session, outbox, CUSTOMER, MessageCreate(title="t", body="b", sent_by="al")
            )
        assert raised.value.status == 404
