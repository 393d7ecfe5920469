"""The tickets service's part of the right to erasure (customer.erased.v1).

Everything the service holds about the customer is personal (what they wrote, what was written
to them, their name), so it is deleted: tickets with their conversations, messages, stored
idempotent answers. The contact stays as a tombstone without personal data, so that a late
event (a read report, a subscription event, customer.updated) does not bring anything back.
Afterwards the customer's lists answer empty and a ticket of theirs 404; new tickets and
messages for them are refused with 404. A replay finds nothing left to delete.
"""

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.idempotency import forget_customer
from services.tickets.models import (
    CustomerContact,
    Message,
    Ticket,
    TicketMessage,
    idempotency_record,
)


async def erase_customer(session: AsyncSession, customer_id: str, erased_at: datetime) -> None:
    for model in (TicketMessage, Ticket, Message):
        await session.execute(delete(model).where(model.customer_id == customer_id))
    await forget_customer(session, idempotency_record, customer_id)
    contact = await session.get(CustomerContact, customer_id)
    if contact is None:
        contact = CustomerContact(customer_id=customer_id)
        session.add(contact)
    if contact.erased_at is None:
        contact.erased_at = erased_at
    contact.first_name = contact.last_name = contact.email = None
    contact.welcome_product_id = None
