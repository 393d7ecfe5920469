"""The rules of the tickets service's messages: customer contacts, system messages from
templates, operators' messages, their read state, and the message history."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts import topics
from services.contracts.apps import MessageReadV1, MessageShowV1
from services.contracts.billing import (
    SubscriptionActivatedV1,
    SubscriptionExpiredV1,
    SubscriptionExpiringV1,
)
from services.contracts.customers import CustomerCreatedV1, CustomerInfo, CustomerUpdatedV1
from services.contracts.tickets import MessageSentV1
from services.runtime.consumer import PoisonMessage, Traced, untraced
from services.runtime.db import dialect_insert, utcnow
from services.runtime.outbox import EventSink, Outbox
from services.runtime.paging import Keyset
from services.runtime.problems import Problem
from services.tickets import templates
from services.tickets.models import CustomerContact, Message
from services.tickets.schemas import MessageCreate, MessagePage, MessagePublic

CONTACT = cast(Table, CustomerContact.__table__)
MESSAGE = cast(Table, Message.__table__)


async def is_erased(session: AsyncSession, customer_id: str) -> bool:
    contact = await session.get(CustomerContact, customer_id)
    return contact is not None and contact.erased_at is not None


async def refuse_if_erased(session: AsyncSession, customer_id: str) -> None:
    """Writes for an erased customer answer 404, like the customer's other endpoints."""
    if await is_erased(session, customer_id):
        raise Problem(404, "Not Found", f"customer {customer_id} was erased")


def _remember_info(contact: CustomerContact, info: CustomerInfo) -> None:
    contact.first_name = info.first_name
    contact.last_name = info.last_name
    contact.email = info.email


async def remember_customer(
    session: AsyncSession, outbox: Outbox, event: CustomerCreatedV1
) -> None:
    """Keep the customer's name; send a welcome that was waiting for it."""
    contact = await session.get(CustomerContact, event.customer_id)
    if contact is None:
        contact = CustomerContact(customer_id=event.customer_id)
        session.add(contact)
    elif contact.erased_at is not None:
        return
    _remember_info(contact, event.info)
    if contact.welcome_product_id is not None:
        product_id, contact.welcome_product_id = contact.welcome_product_id, None
        await _send_welcome(session, outbox, contact, product_id)


async def update_customer(session: AsyncSession, event: CustomerUpdatedV1) -> None:
    """Keep the contact's name and e-mail current (the event carries the whole new state)."""
    contact = await session.get(CustomerContact, event.customer_id)
    if contact is None:
        contact = CustomerContact(customer_id=event.customer_id)
        session.add(contact)
    elif contact.erased_at is not None:
        return
    _remember_info(contact, event.info)


async def remember_customers(
    session: AsyncSession,
    outbox: Outbox,
    events: Sequence[CustomerCreatedV1 | CustomerUpdatedV1],
    traced: Traced = untraced,
) -> None:
    """`remember_customer` and `update_customer` for a partition's run: the contacts read in
    one query (objects, so the rest of the transaction sees what this wrote), each customer's
    events applied in arrival order, the writes flushed together; a welcome that waited for the
    name goes out on customer.created, as one by one."""
    ids = {e.customer_id for e in events}
    contacts = {
        c.customer_id: c
        for c in (
            await session.scalars(
                select(CustomerContact).where(CustomerContact.customer_id.in_(ids))
            )
        ).all()
    }
    for index, event in enumerate(events):
        contact = contacts.get(event.customer_id)
        if contact is None:
            contact = contacts[event.customer_id] = CustomerContact(customer_id=event.customer_id)
            session.add(contact)
        elif contact.erased_at is not None:
            continue
        _remember_info(contact, event.info)
        if isinstance(event, CustomerCreatedV1) and contact.welcome_product_id is not None:
            # Now, by the name this event brought (a later update in the run must not rename
            # the welcome): rare, only where the subscription came first.
            product_id, contact.welcome_product_id = contact.welcome_product_id, None
            with traced(index):
                await _send_welcome(session, outbox, contact, product_id)


async def welcome_on_first_subscription(
    session: AsyncSession, outbox: Outbox, event: SubscriptionActivatedV1
) -> None:
    """Welcome the customer the first time their subscription opens, by name: if the name has
    not arrived yet, the welcome waits for customer.created."""
    if event.action != "opened":
        return
    contact = await session.get(CustomerContact, event.customer_id)
    if contact is not None and contact.erased_at is not None:
        return
    if contact is None or contact.first_name is None:
        if contact is None:
            contact = CustomerContact(customer_id=event.customer_id)
            session.add(contact)
        contact.welcome_product_id = event.product_id
        return
    await _send_welcome(session, outbox, contact, event.product_id)


async def welcome_on_first_subscriptions(
    session: AsyncSession,
    outbox: Outbox,
    events: Sequence[SubscriptionActivatedV1],
    traced: Traced = untraced,
) -> None:
    """`welcome_on_first_subscription` for a partition's run: only an opening can welcome, so
    the renewals and changes that make up most of a run cost nothing here; the openings, one
    per new customer, go one by one in arrival order (each reads its contact anyway)."""
    for index, event in enumerate(events):
        if event.action == "opened":
            with traced(index):
                await welcome_on_first_subscription(session, outbox, event)


async def _send_welcome(
    session: AsyncSession, outbox: Outbox, contact: CustomerContact, product_id: str
) -> None:
    already = await session.scalar(
        select(Message.id).where(
            Message.customer_id == contact.customer_id,
            Message.template == templates.WELCOME.name,
        )
    )
    if already is not None:
        return
    title, body = templates.render(
        templates.WELCOME, first_name=contact.first_name or "there", product=product_id
    )
    await send_message(
        session,
        outbox,
        customer_id=contact.customer_id,
        title=title,
        body=body,
        template=templates.WELCOME.name,
    )


async def message_on_expiring(
    session: AsyncSession, outbox: Outbox, event: SubscriptionExpiringV1
) -> None:
    """Tell the customer their subscription ends soon: once per subscription period."""
    await messages_on_expiring(session, outbox, [event])


async def message_on_expired(
    session: AsyncSession, outbox: Outbox, event: SubscriptionExpiredV1
) -> None:
    """Tell the customer their subscription has ended: once per subscription period."""
    await messages_on_expired(session, outbox, [event])


async def messages_on_expiring(
    session: AsyncSession,
    outbox: EventSink,
    events: Sequence[SubscriptionExpiringV1],
    traced: Traced = untraced,
) -> None:
    await _send_system_messages(
        session,
        outbox,
        templates.EXPIRING,
        [
            _Wanted(
                e.customer_id,
                f"{e.subscription_id}@{e.expires_at.isoformat()}",
                {
                    "product": e.product_id,
                    "date": e.expires_at.date().isoformat(),
                    "days_left": "1 day" if e.days_left == 1 else f"{e.days_left} days",
                },
            )
            for e in events
        ],
        traced,
    )


async def messages_on_expired(
    session: AsyncSession,
    outbox: EventSink,
    events: Sequence[SubscriptionExpiredV1],
    traced: Traced = untraced,
) -> None:
    await _send_system_messages(
        session,
        outbox,
        templates.EXPIRED,
        [
            _Wanted(
                e.customer_id,
                f"{e.subscription_id}@{e.expired_at.isoformat()}",
                {"product": e.product_id, "date": e.expired_at.date().isoformat()},
            )
            for e in events
        ],
        traced,
    )


@dataclass(frozen=True)
class _Wanted:
    """A system message to send: to whom, about what (the occasion), the template's values."""

    customer_id: str
    occasion: str
    values: dict[str, str]


async def _send_system_messages(
    session: AsyncSession,
    outbox: EventSink,
    template: templates.Template,
    wanted: list[_Wanted],
    traced: Traced = untraced,
) -> None:
    """System messages of one template, set-based (a month end sends thousands): the contacts
    read in one query, the messages inserted in one statement, their events in the outbox.

    The natural key (customer, template, occasion) makes a re-sent billing event harmless: the
    insert skips a message sent already, and its unique index settles two deliveries racing
    each other. An erased customer gets nothing."""
    if not wanted:
        return
    await session.flush()  # messages this transaction added as objects are in the table first
    contacts = {
        row.customer_id: row
        for row in (
            await session.execute(
                select(CONTACT.c.customer_id, CONTACT.c.first_name, CONTACT.c.erased_at).where(
                    CONTACT.c.customer_id.in_({w.customer_id for w in wanted})
                )
            )
        ).all()
    }
    now = utcnow()
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    # The event (its index in `wanted`) each message answers: its announcement continues
    # that event's trace.
    answers: dict[tuple[str, str], int] = {}
    for index, w in enumerate(wanted):
        contact = contacts.get(w.customer_id)
        if (contact is not None and contact.erased_at is not None) or (
            (w.customer_id, w.occasion) in rows
        ):
            continue
        first_name = contact.first_name if contact is not None and contact.first_name else "there"
        title, body = templates.render(template, first_name=first_name, **w.values)
        answers[(w.customer_id, w.occasion)] = index
        rows[(w.customer_id, w.occasion)] = {
            "id": str(uuid.uuid4()),
            "customer_id": w.customer_id,
            "channel": "in_app",
            "template": template.name,
            "occasion": w.occasion,
            "ticket_id": None,
            "sent_by": None,
            "title": title,
            "body": body,
            "device_id": None,
            "status": "sent",
            "sent_at": now,
            "read_at": None,
        }
    if not rows:
        return
    inserted = set(
        (
            await session.scalars(
                dialect_insert(session)(MESSAGE)
                .on_conflict_do_nothing(
                    index_elements=[MESSAGE.c.customer_id, MESSAGE.c.template, MESSAGE.c.occasion]
                )
                .returning(MESSAGE.c.id),
                list(rows.values()),
            )
        ).all()
    )
    for key, row in rows.items():
        if row["id"] in inserted:
            with traced(answers[key]):
                await _announce(
                    session,
                    outbox,
                    message_id=row["id"],
                    customer_id=row["customer_id"],
                    title=row["title"],
                    body=row["body"],
                    template=row["template"],
                    sent_at=now,
                )


async def send_operator_message(
    session: AsyncSession, outbox: Outbox, customer_id: str, payload: MessageCreate
) -> MessagePublic:
    await refuse_if_erased(session, customer_id)
    message = await send_message(
        session,
        outbox,
        customer_id=customer_id,
        title=payload.title,
        body=payload.body,
        device_id=payload.device_id,
        sent_by=payload.sent_by,
    )
    return MessagePublic.model_validate(message, from_attributes=True)


async def send_message(
    session: AsyncSession,
    outbox: Outbox,
    *,
    customer_id: str,
    title: str,
    body: str,
    template: str | None = None,
    occasion: str | None = None,
    device_id: str | None = None,
    ticket_id: str | None = None,
    sent_by: str | None = None,
    sent_at: datetime | None = None,
) -> Message:
    """Record the message and put it on apps.commands (message.show) and tickets.events
    (message.sent), all in the caller's transaction."""
    now = sent_at or utcnow()
    message = Message(
        id=str(uuid.uuid4()),
        customer_id=customer_id,
        channel="in_app",
        template=template,
        occasion=occasion,
        ticket_id=ticket_id,
        sent_by=sent_by,
        title=title,
        body=body,
        device_id=device_id,
        status="sent",
        sent_at=now,
    )
    session.add(message)
    await _announce(
        session,
        outbox,
        message_id=message.id,
        customer_id=customer_id,
        title=title,
        body=body,
        template=template,
        sent_at=now,
        device_id=device_id,
        ticket_id=ticket_id,
    )
    return message


async def _announce(
    session: AsyncSession,
    outbox: EventSink,
    *,
    message_id: str,
    customer_id: str,
    title: str,
    body: str,
    template: str | None,
    sent_at: datetime,
    device_id: str | None = None,
    ticket_id: str | None = None,
) -> None:
    """A sent message to the apps (message.show) and on tickets.events (message.sent)."""
    await outbox.add(
        session,
        MessageShowV1(
            customer_id=customer_id,
            message_id=message_id,
            device_id=device_id,
            title=title,
            body=body,
            ticket_id=ticket_id,
        ),
        topic=topics.APPS_COMMANDS,
        key=customer_id,
        subject=customer_id,
    )
    await outbox.add(
        session,
        MessageSentV1(
            customer_id=customer_id,
            message_id=message_id,
            channel="in_app",
            template=template,
            sent_at=sent_at,
        ),
        topic=topics.TICKETS_EVENTS,
        key=customer_id,
        subject=customer_id,
    )


async def mark_read(session: AsyncSession, event: MessageReadV1) -> None:
    """sent -> read, once: a second read report keeps the first read_at."""
    message = await session.get(Message, event.message_id)
    if message is None:
        if await is_erased(session, event.customer_id):
            return  # erased with the customer: nothing is left to mark
        raise PoisonMessage(f"unknown message id {event.message_id!r}")
    if message.customer_id != event.customer_id:
        raise PoisonMessage(
            f"message {event.message_id!r} was not sent to customer {event.customer_id!r}"
        )
    if message.status == "read":
        return
    message.status = "read"
    message.read_at = event.read_at


MESSAGES = Keyset("tickets.messages", tuple[datetime, str])


async def list_messages(
    session: AsyncSession, customer_id: str, *, limit: int, cursor: str | None
) -> MessagePage:
    query = select(Message).where(Message.customer_id == customer_id)
    if cursor:
        query = query.where(MESSAGES.where(cursor, (Message.sent_at, Message.id), descending=True))
    rows = (
        await session.scalars(
            query.order_by(Message.sent_at.desc(), Message.id.desc()).limit(limit + 1)
        )
    ).all()
    page, next_cursor = MESSAGES.cut(rows, limit, lambda m: (m.sent_at, m.id))
    items = [MessagePublic.model_validate(m, from_attributes=True) for m in page]
    return MessagePage(items=items, next_cursor=next_cursor)
