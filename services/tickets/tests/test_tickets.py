"""Tickets: opening, the status rules, the conversation (operators' replies reach the apps,
internal notes never do), customers' replies from the apps, and the lists."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from services.contracts import topics
from services.contracts.apps import TicketRepliedV1
from services.runtime.consumer import PoisonMessage
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem
from services.runtime.tests._helpers import (
    consumer_record,
    envelope_bytes,
    event_bytes,
    of_type,
    outbox_rows,
    service_runtime,
)
from services.tickets import conversations, models
from services.tickets.app import SPEC
from services.tickets.models import Message
from services.tickets.schemas import (
    TicketCreate,
    TicketDetails,
    TicketMessageCreate,
    TicketStatus,
    TicketUpdate,
)

CUSTOMER = "c0ffee00-0000-4000-8000-000000000001"
OTHER = "c0ffee00-0000-4000-8000-000000000002"


async def open_ticket(db: Database, customer_id: str = CUSTOMER, **fields: object) -> TicketDetails:
    values: dict[str, object] = {"subject": "No picture on channel 5", "opened_by": "alice"}
    values.update(fields)
    async with db.transaction() as session:
        return await conversations.open_ticket(
            session, customer_id, TicketCreate.model_validate(values)
        )


async def set_status(db: Database, ticket_id: str, status: TicketStatus) -> TicketDetails:
    async with db.transaction() as session:
        return await conversations.update_ticket(
            session, CUSTOMER, ticket_id, TicketUpdate(status=status)
        )


async def reply(db: Database, outbox: Outbox, ticket_id: str, *, internal: bool) -> None:
    async with db.transaction() as session:
        await conversations.add_operator_message(
            session,
            outbox,
            CUSTOMER,
            ticket_id,
            TicketMessageCreate(body="Please restart the box.", internal=internal, author="bob"),
        )


async def customer_reply(db: Database, ticket_id: str, customer_id: str = CUSTOMER) -> None:
    async with db.transaction() as session:
        await conversations.customer_replied(
            session,
            TicketRepliedV1(
                customer_id=customer_id,
                ticket_id=ticket_id,
                body="Still broken.",
                replied_at=datetime(2026, 11, 28, 12, tzinfo=UTC),
            ),
        )


async def details(db: Database, ticket_id: str) -> TicketDetails:
    async with db.sessions() as session:
        return await conversations.get_ticket(session, CUSTOMER, ticket_id)


async def test_a_new_ticket_is_open_with_the_description_as_an_internal_note(
    db: Database,
) -> None:
    ticket = await open_ticket(db, description="Customer called: black screen", priority="high")

    assert (ticket.status, ticket.priority, ticket.opened_by) == ("open", "high", "alice")
    assert ticket.first_response_at is None
    [note] = ticket.messages
    assert (note.author_kind, note.author, note.internal) == ("operator", "alice", True)
    assert (await details(db, ticket.id)).messages == ticket.messages


async def test_a_ticket_of_another_customer_is_not_found(db: Database) -> None:
    ticket = await open_ticket(db, customer_id=OTHER)

    with pytest.raises(Problem) as raised:
        await details(db, ticket.id)
    assert raised.value.status == 404


async def test_status_changes_follow_the_rules(db: Database) -> None:
    ticket = await open_ticket(db)

    assert (await set_status(db, ticket.id, "pending")).status == "pending"
    resolved = await set_status(db, ticket.id, "resolved")
    assert resolved.resolved_at is not None
    closed = await set_status(db, ticket.id, "closed")
    assert closed.closed_at is not None
    for refused in ("pending", "resolved"):
        with pytest.raises(Problem) as raised:
            await set_status(db, ticket.id, refused)
        assert raised.value.status == 409
        assert raised.value.extra["errors"][0]["field"] == "status"
    assert (await set_status(db, ticket.id, "open")).status == "open"  # an operator reopens


async def test_priority_and_assignee_change_and_null_unassigns(db: Database) -> None:
    ticket = await open_ticket(db, assignee="alice")

    async with db.transaction() as session:
        changed = await conversations.update_ticket(
            session,
            CUSTOMER,
            ticket.id,
            TicketUpdate(priority="urgent", assignee="bob"),
        )
    assert (changed.priority, changed.assignee) == ("urgent", "bob")
    assert changed.updated_at > ticket.updated_at
    async with db.transaction() as session:
        kept = await conversations.update_ticket(
            session, CUSTOMER, ticket.id, TicketUpdate(priority="low")
        )
    assert kept.assignee == "bob"  # not given: unchanged
    async with db.transaction() as session:
        unassigned = await conversations.update_ticket(
            session, CUSTOMER, ticket.id, TicketUpdate(assignee=None)
        )
    assert unassigned.assignee is None


async def test_an_operator_reply_reaches_the_apps_and_sets_the_first_response(
    db: Database, outbox: Outbox
) -> None:
    ticket = await open_ticket(db)

    await reply(db, outbox, ticket.id, internal=False)

    after = await details(db, ticket.id)
    assert after.first_response_at is not None
    [entry] = after.messages
    assert (entry.author_kind, entry.author, entry.internal) == ("operator", "bob", False)
    [show] = of_type(await outbox_rows(db, models.outbox), "message.show.v1")
    assert (show.topic, show.key) == (topics.APPS_COMMANDS, CUSTOMER)
    assert show.data["ticket_id"] == ticket.id
    assert show.data["title"] == "Re: No picture on channel 5"
    assert show.data["body"] == "Please restart the box."
    async with db.sessions() as session:
        [message] = (await session.scalars(select(Message))).all()
    # In the customer's message history too, where the app's read report finds it.
    assert (message.id, message.ticket_id, message.sent_by) == (
        show.data["message_id"],
        ticket.id,
        "bob",
    )

    await reply(db, outbox, ticket.id, internal=False)
    assert (await details(db, ticket.id)).first_response_at == after.first_response_at


async def test_an_internal_note_never_reaches_the_apps(db: Database, outbox: Outbox) -> None:
    ticket = await open_ticket(db)

    await reply(db, outbox, ticket.id, internal=True)

    after = await details(db, ticket.id)
    assert [m.internal for m in after.messages] == [True]
    assert after.first_response_at is None
    assert await outbox_rows(db, models.outbox) == []


async def test_a_closed_ticket_takes_notes_but_no_replies(db: Database, outbox: Outbox) -> None:
    ticket = await open_ticket(db)
    await set_status(db, ticket.id, "closed")

    with pytest.raises(Problem) as raised:
        await reply(db, outbox, ticket.id, internal=False)
    assert raised.value.status == 409
    await reply(db, outbox, ticket.id, internal=True)
    assert len((await details(db, ticket.id)).messages) == 1


@pytest.mark.parametrize("status", ["resolved", "pending", "open"])
async def test_a_customer_reply_reopens_the_ticket(db: Database, status: TicketStatus) -> None:
    ticket = await open_ticket(db)
    if status != "open":
        await set_status(db, ticket.id, status)

    await customer_reply(db, ticket.id)

    after = await details(db, ticket.id)
    assert after.status == "open"
    [entry] = after.messages
    assert (entry.author_kind, entry.author, entry.internal, entry.body) == (
        "customer",
        None,
        False,
        "Still broken.",
    )
    assert entry.created_at == datetime(2026, 11, 28, 12, tzinfo=UTC)


async def test_a_customer_reply_to_a_closed_ticket_is_kept_but_does_not_reopen(
    db: Database,
) -> None:
    ticket = await open_ticket(db)
    await set_status(db, ticket.id, "closed")

    await customer_reply(db, ticket.id)

    after = await details(db, ticket.id)
    assert after.status == "closed"
    assert [m.author_kind for m in after.messages] == ["customer"]


async def test_a_reply_to_an_unknown_or_foreign_ticket_is_poison(db: Database) -> None:
    ticket = await open_ticket(db, customer_id=OTHER)

    with pytest.raises(PoisonMessage, match="unknown ticket"):
        await customer_reply(db, "no-such-ticket")
    with pytest.raises(PoisonMessage, match="does not belong"):
        await customer_reply(db, ticket.id)


async def test_bad_replies_from_the_apps_are_dead_lettered_with_the_reason(db: Database) -> None:
    ticket = await open_ticket(db, customer_id=OTHER)
    async with service_runtime(SPEC, db) as rt:
        foreign = TicketRepliedV1(
            customer_id=CUSTOMER,
            ticket_id=ticket.id,
            body="hello",
            replied_at=datetime(2026, 11, 28, tzinfo=UTC),
        )
        empty_body = envelope_bytes(
            "ticket.replied.v1",
            {"customer_id": CUSTOMER, "ticket_id": ticket.id, "body": "", "replied_at": "x"},
        )
        for value in (event_bytes(foreign), empty_body, b"{not json"):
            outcome = await rt.consumer.process(
                topics.APPS_EVENTS, consumer_record(topics.APPS_EVENTS, value)
            )
            assert outcome == "dead_lettered"
        sent = rt.consumer.producer.sent  # type: ignore[attr-defined]
    assert [s.topic for s in sent] == [topics.dlq(topics.APPS_EVENTS)] * 3
    reasons = [s.header("x-dlq-reason") for s in sent]
    assert "does not belong" in reasons[0]
    assert "violates its schema" in reasons[1] and "body" in reasons[1]
    assert "invalid CloudEvent envelope" in reasons[2]
    assert (await details_of_other(db, ticket.id)).messages == []


async def details_of_other(db: Database, ticket_id: str) -> TicketDetails:
    async with db.sessions() as session:
        return await conversations.get_ticket(session, OTHER, ticket_id)


async def test_a_replayed_reply_is_added_once(db: Database) -> None:
    ticket = await open_ticket(db)
    await set_status(db, ticket.id, "resolved")
    async with service_runtime(SPEC, db) as rt:
        record = consumer_record(
            topics.APPS_EVENTS,
            event_bytes(
                TicketRepliedV1(
                    customer_id=CUSTOMER,
                    ticket_id=ticket.id,
                    body="again",
                    replied_at=datetime(2026, 11, 28, tzinfo=UTC),
                ),
                event_id="reply-1",
            ),
        )
        assert await rt.consumer.process(topics.APPS_EVENTS, record) == "handled"
        assert await rt.consumer.process(topics.APPS_EVENTS, record) == "duplicate"
    after = await details(db, ticket.id)
    assert after.status == "open"
    assert len(after.messages) == 1


async def test_the_list_filters_and_pages_most_recently_updated_first(db: Database) -> None:
    first = await open_ticket(db, subject="one", assignee="alice", priority="low")
    second = await open_ticket(db, subject="two", assignee="bob")
    third = await open_ticket(db, subject="three", customer_id=OTHER, priority="urgent")
    await set_status(db, first.id, "pending")  # now the most recently updated

    async with db.sessions() as session:
        everything = await conversations.list_tickets(session, limit=2)
        rest = await conversations.list_tickets(session, limit=2, cursor=everything.next_cursor)
        pending = await conversations.list_tickets(session, statuses=["pending"])
        bobs = await conversations.list_tickets(session, assignee="bob")
        nobody = await conversations.list_tickets(session, unassigned=True)
        others = await conversations.list_tickets(session, customer_id=OTHER)
        urgent_or_low = await conversations.list_tickets(session, priorities=["urgent", "low"])
        oldest = await conversations.list_tickets(session, limit=2, sort="updated_at")
        newest = await conversations.list_tickets(
            session, limit=2, sort="updated_at", cursor=oldest.next_cursor
        )

    assert [t.id for t in everything.items] == [first.id, third.id]
    assert [t.id for t in rest.items] == [second.id]
    assert rest.next_cursor is None
    assert [t.id for t in pending.items] == [first.id]
    assert [t.id for t in bobs.items] == [second.id]
    assert [t.id for t in nobody.items] == [third.id]
    assert [t.id for t in others.items] == [third.id]
    assert {t.id for t in urgent_or_low.items} == {first.id, third.id}
    assert [t.id for t in oldest.items + newest.items] == [second.id, third.id, first.id]


async def test_a_cursor_the_list_did_not_give_out_is_refused(db: Database) -> None:
    async with db.sessions() as session:
        with pytest.raises(Problem) as raised:
            await conversations.list_tickets(session, cursor="not-a-cursor")
    assert raised.value.status == 422
    newest_first = conversations.TICKETS["-updated_at"].encode((datetime.now(UTC), "t-1"))
    async with db.sessions() as session:
        with pytest.raises(Problem) as raised:
            await conversations.list_tickets(session, cursor=newest_first, sort="updated_at")
    assert raised.value.extra["errors"][0]["field"] == "cursor"
