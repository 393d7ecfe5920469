"""The rules of the tickets service: customer contacts, system messages, message history."""

import uuid

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts import topics
from services.contracts.apps import MessageShowV1
from services.contracts.billing import SubscriptionActivatedV1
from services.contracts.customers import CustomerCreatedV1
from services.contracts.tickets import MessageSentV1
from services.runtime.db import utcnow
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem
from services.tickets import templates
from services.tickets.models import CustomerContact, Message
from services.tickets.schemas import MessagePage, MessagePublic


async def remember_customer(
    session: AsyncSession, outbox: Outbox, event: CustomerCreatedV1
) -> None:
    """Keep the customer's name; send a welcome that was waiting for it."""
    contact = await session.get(CustomerContact, event.customer_id)
    if contact is None:
        contact = CustomerContact(customer_id=event.customer_id)
        session.add(contact)
    contact.first_name = event.info.first_name
    contact.email = event.info.email
    if contact.welcome_product_id is not None:
        product_id, contact.welcome_product_id = contact.welcome_product_id, None
        await _send_welcome(session, outbox, contact, product_id)


async def welcome_on_first_subscription(
    session: AsyncSession, outbox: Outbox, event: SubscriptionActivatedV1
) -> None:
    """Welcome the customer the first time their subscription opens, by name: if the name has
    not arrived yet, the welcome waits for customer.created."""
    if event.action != "opened":
        return
    contact = await session.get(CustomerContact, event.customer_id)
    if contact is None or contact.first_name is None:
        if contact is None:
            contact = CustomerContact(customer_id=event.customer_id)
            session.add(contact)
        contact.welcome_product_id = event.product_id
        return
    await _send_welcome(session, outbox, contact, event.product_id)


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


async def send_message(
    session: AsyncSession,
    outbox: Outbox,
    *,
    customer_id: str,
    title: str,
    body: str,
    template: str | None = None,
    device_id: str | None = None,
) -> Message:
    now = utcnow()
    message = Message(
        id=str(uuid.uuid4()),
        customer_id=customer_id,
        channel="in_app",
        template=template,
        title=title,
        body=body,
        device_id=device_id,
        status="sent",
        sent_at=now,
    )
    session.add(message)
    await outbox.add(
        session,
        MessageShowV1(
            customer_id=customer_id,
            message_id=message.id,
            device_id=device_id,
            title=title,
            body=body,
        ),
        topic=topics.APPS_COMMANDS,
        key=customer_id,
        subject=customer_id,
    )
    await outbox.add(
        session,
        MessageSentV1(
            customer_id=customer_id,
            message_id=message.id,
            channel="in_app",
            template=template,
            sent_at=now,
        ),
        topic=topics.TICKETS_EVENTS,
        key=customer_id,
        subject=customer_id,
    )
    return message


async def list_messages(
    session: AsyncSession, customer_id: str, *, limit: int, cursor: str | None
) -> MessagePage:
    query = select(Message).where(Message.customer_id == customer_id)
    if cursor:
        last = await session.get(Message, cursor)
        if last is None or last.customer_id != customer_id:
            raise Problem(
                400,
                "Bad cursor",
                "the cursor is not one this list gave out",
                extra={"field": "cursor"},
            )
        query = query.where(
            or_(
                Message.sent_at < last.sent_at,
                (Message.sent_at == last.sent_at) & (Message.id < last.id),
            )
        )
    rows = (
        await session.scalars(
            query.order_by(Message.sent_at.desc(), Message.id.desc()).limit(limit + 1)
        )
    ).all()
    items = [MessagePublic.model_validate(m, from_attributes=True) for m in rows[:limit]]
    return MessagePage(items=items, next_cursor=rows[limit - 1].id if len(rows) > limit else None)
