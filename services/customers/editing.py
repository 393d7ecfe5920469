"""Editing a customer's personal data and bound webshop; emits customer.updated with the whole
new state and the fields that changed. Sending what is already stored changes nothing and emits
nothing, so a repeated PATCH is harmless."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts import topics
from services.contracts.contact import CustomerInfoPatch
from services.contracts.customers import CustomerUpdatedV1
from services.customers.models import Account, Customer
from services.customers.schemas import CustomerPublic, CustomerUpdate
from services.customers.service import info_of, set_names, to_public
from services.runtime.db import utcnow
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem

# Info fields stored as given in their own column (the names also feed the search copies).
_PLAIN_FIELDS = (
    "title",
    "email",
    "phone",
    "mobile",
    "street",
    "zip",
    "city",
    "state",
    "country",
    "comments",
    "mapping_id",
)


async def load(session: AsyncSession, customer_id: str) -> tuple[Customer, Account]:
    customer = await session.get(Customer, customer_id)
    account = await session.get(Account, customer_id)
    if customer is None or account is None:
        raise Problem(404, "Customer not found", f"no customer with id {customer_id}")
    return customer, account


def _apply_info(customer: Customer, patch: CustomerInfoPatch) -> list[str]:
    changes = patch.changes()
    changed = [name for name, value in changes.items() if getattr(customer, name) != value]
    first = changes.get("first_name") or customer.first_name
    last = changes.get("last_name") or customer.last_name
    set_names(customer, first, last)
    for name in _PLAIN_FIELDS:
        if name in changes:
            setattr(customer, name, changes[name])
    if "email" in changes:
        email = changes["email"]
        customer.search_email = email.lower() if email else None
    return [f"info.{name}" for name in changed]


async def update_customer(
    session: AsyncSession,
    outbox: Outbox,
    customer_id: str,
    patch: CustomerUpdate,
) -> CustomerPublic:
    customer, account = await load(session, customer_id)
    changed: list[str] = []
    if patch.info is not None:
        changed += _apply_info(customer, patch.info)
    if patch.webshop_id is not None and patch.webshop_id != customer.webshop_id:
        customer.webshop_id = patch.webshop_id
        changed.append("webshop_id")
    if changed:
        customer.updated_at = utcnow()
        await outbox.add(
            session,
            CustomerUpdatedV1(
                customer_id=customer.id,
                webshop_id=customer.webshop_id,
                info=info_of(customer),
                changed_fields=sorted(changed),
                updated_at=customer.updated_at,
            ),
            topic=topics.CUSTOMERS_EVENTS,
            key=customer.id,
            subject=customer.id,
        )
    return to_public(customer, account)
