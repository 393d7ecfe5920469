"""Right to erasure: the customer's personal data, account and profiles are deleted; a
tombstone keeps the id and the time, and customer.erased tells every other service."""

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts import topics
from services.contracts.customers import CustomerErasedV1
from services.customers.bulk.models import CustomerBatchItem
from services.customers.erasure.models import ErasedCustomer
from services.customers.models import Account, Customer, WebshopOrder, idempotency_record
from services.customers.profiles.models import Profile
from services.runtime.db import utcnow
from services.runtime.idempotency import forget_customer
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem


async def erase_customer(session: AsyncSession, outbox: Outbox, customer_id: str) -> datetime:
    """Erase the customer; returns when. Erasing an erased customer again changes nothing and
    returns the first time; an id never seen is 404."""
    tombstone = await session.get(ErasedCustomer, customer_id)
    if tombstone is not None:
        return tombstone.erased_at
    customer = await session.scalar(
        select(Customer).where(Customer.id == customer_id).with_for_update()
    )
    if customer is None:
        # A concurrent erasure may have committed between the two reads.
        tombstone = await session.get(ErasedCustomer, customer_id)
        if tombstone is not None:
            return tombstone.erased_at
        raise Problem(404, "Customer not found", f"no customer with id {customer_id}")
    erased_at = utcnow()
    await session.execute(delete(Profile).where(Profile.customer_id == customer_id))
    await session.execute(delete(Account).where(Account.customer_id == customer_id))
    await forget_customer(session, idempotency_record, customer_id)
    # The order rows stay (they make a webshop's resent order idempotent) without a password.
    await session.execute(
        update(WebshopOrder)
        .where(WebshopOrder.customer_id == customer_id)
        .values(generated_password=None)
    )
    await session.execute(
        update(CustomerBatchItem)
        .where(CustomerBatchItem.customer_id == customer_id)
        .values(login=None, password=None)
    )
    await session.delete(customer)
    session.add(ErasedCustomer(customer_id=customer_id, erased_at=erased_at))
    await session.flush()
    await outbox.add(
        session,
        CustomerErasedV1(customer_id=customer_id, erased_at=erased_at),
        topic=topics.CUSTOMERS_EVENTS,
        key=customer_id,
        subject=customer_id,
    )
    return erased_at
