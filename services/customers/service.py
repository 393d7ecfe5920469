"""The rules of the customers service: creating customers and accounts, resolving webshop buyers,
following billing's subscription events. (The list is in listing.py, edits in editing.py, the
account in account.py.)"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts import topics
from services.contracts.billing import SubscriptionActivatedV1, SubscriptionRejectedV1
from services.contracts.customers import (
    CustomerCreatedV1,
    CustomerInfo,
    SubscriptionOrder,
)
from services.contracts.webshop import OrderAcceptedV1, OrderRejectedV1
from services.customers import credentials
from services.customers.models import Account, Customer, WebshopOrder
from services.customers.name_keys import name_keys
from services.customers.profiles import service as profiles
from services.customers.schemas import (
    CustomerCreate,
    CustomerCreated,
    CustomerPublic,
    SubscriptionSummary,
)
from services.customers.status import STATUS_RANK, follow_activated_batch
from services.runtime.consumer import Traced, untraced
from services.runtime.db import utcnow
from services.runtime.outbox import EventSink, Outbox
from services.runtime.problems import Problem, field_error

WEBSHOP_ORDER = cast(Table, WebshopOrder.__table__)


def set_names(customer: Customer, first_name: str, last_name: str) -> None:
    """The names and their folded search keys (name_keys.py), always together."""
    customer.first_name = first_name
    customer.last_name = last_name
    customer.search_name, customer.search_full_name = name_keys(first_name, last_name)


def info_of(customer: Customer | Row[Any]) -> CustomerInfo:
    return CustomerInfo(
        title=customer.title,
        first_name=customer.first_name,
        last_name=customer.last_name,
        email=customer.email,
        phone=customer.phone,
        mobile=customer.mobile,
        street=customer.street,
        zip=customer.zip,
        city=customer.city,
        state=customer.state,
        country=customer.country,
        comments=customer.comments,
        mapping_id=customer.mapping_id,
    )


def to_public(customer: Customer | Row[Any], account: Account | Row[Any]) -> CustomerPublic:
    """The public shape of a customer and its account, or of one list row (listing.LIST_COLUMNS)
    that has the attributes of both."""
    return CustomerPublic(
        id=customer.id,
        status=customer.status,
        source=customer.source,
        login=account.login,
        webshop_id=customer.webshop_id,
        info=info_of(customer),
        subscription=SubscriptionSummary(
            product_id=customer.product_id,
            plan_id=customer.plan_id,
            extra_product_ids=list(customer.extra_product_ids or []),
            status=customer.subscription_status,
            expires_at=customer.expires_at,
        ),
        created_at=customer.created_at,
        updated_at=customer.updated_at,
    )


@dataclass(frozen=True)
class NewAccount:
    login: str
    password_hash: str
    generated_password: str | None


async def prepare_account(
    session: AsyncSession, login: str | None, password: str | None
) -> NewAccount:
    """Custom credentials as given, or a fresh unique numeric login and numeric password."""
    if login is not None and password is not None:
        if await _login_taken(session, login):
            raise Problem(
                409,
                "Login taken",
                f"the login {login!r} is already in use",
                errors=[field_error("credentials.login", "already in use")],
            )
        password_hash = await credentials.hash_one(password)
        return NewAccount(login, password_hash, None)
    for _ in range(20):
        candidate = credentials.generate_login()
        if not await _login_taken(session, candidate):
            break
    else:  # pragma: no cover - 9e9 logins make twenty collisions in a row practically impossible
        raise Problem(503, "No free login", "could not find a free login; try again")
    generated = credentials.generate_password()
    password_hash = await credentials.hash_one(generated)
    return NewAccount(candidate, password_hash, generated)


async def login_owner(session: AsyncSession, login: str) -> str | None:
    """The customer whose login is `login` ignoring case (logins are unique that way)."""
    return await session.scalar(
        select(Account.customer_id).where(func.lower(Account.login) == login.lower())
    )


async def _login_taken(session: AsyncSession, login: str) -> bool:
    return (await login_owner(session, login)) is not None


def new_customer_row(
    *,
    info: CustomerInfo,
    login: str,
    source: str,
    webshop_id: str,
    external_id: str | None = None,
) -> dict[str, Any]:
    """The columns of a new, pending customer (also inserted as rows, many at once)."""
    now = utcnow()
    search_name, search_full_name = name_keys(info.first_name, info.last_name)
    return {
        "id": str(uuid.uuid4()),
        "status": "pending",
        "status_rank": STATUS_RANK["pending"],
        "source": source,
        "webshop_id": webshop_id,
        "external_id": external_id,
        "first_name": info.first_name,
        "last_name": info.last_name,
        "title": info.title,
        "email": info.email,
        "phone": info.phone,
        "mobile": info.mobile,
        "street": info.street,
        "zip": info.zip,
        "city": info.city,
        "state": info.state,
        "country": info.country,
        "comments": info.comments,
        "mapping_id": info.mapping_id,
        "search_name": search_name,
        "search_full_name": search_full_name,
        "search_email": info.email.lower() if info.email else None,
        "search_login": login.lower(),
        "created_at": now,
        "updated_at": now,
        "extra_product_ids": [],
    }


def _new_customer(
    *,
    info: CustomerInfo,
    login: str,
    source: str,
    webshop_id: str,
    external_id: str | None = None,
) -> Customer:
    return Customer(
        **new_customer_row(
            info=info, login=login, source=source, webshop_id=webshop_id, external_id=external_id
        )
    )


async def create_customer(
    session: AsyncSession, outbox: Outbox, payload: CustomerCreate
) -> CustomerCreated:
    """Create customer + account and emit customer.created carrying the order."""
    creds = payload.credentials
    account_plan = await prepare_account(
        session, creds.login if creds else None, creds.password if creds else None
    )
    customer = _new_customer(
        info=payload.info,
        login=account_plan.login,
        source="manual",
        webshop_id=payload.webshop_id,
    )
    account = Account(
        customer_id=customer.id,
        login=account_plan.login,
        password_hash=account_plan.password_hash,
        login_generated=creds is None,
        disabled=False,
        created_at=customer.created_at,
    )
    # No ORM relationship ties the two, so the customer row is flushed first for the FK.
    session.add(customer)
    await session.flush()
    session.add(account)
    await session.flush()
    order = SubscriptionOrder(
        order_id=f"op-{customer.id}",
        webshop_id=payload.webshop_id,
        product_id=payload.product_id,
        plan_id=payload.plan_id,
        extra_product_ids=payload.extra_product_ids,
        operator_payment=payload.payment,
    )
    await outbox.add(
        session,
        CustomerCreatedV1(
            customer_id=customer.id,
            source="manual",
            webshop_id=customer.webshop_id,
            login=account.login,
            info=payload.info,
            created_at=customer.created_at,
            order=order,
        ),
        topic=topics.CUSTOMERS_EVENTS,
        key=customer.id,
        subject=customer.id,
    )
    await profiles.create_default_profile(
        session, outbox, customer_id=customer.id, created_at=customer.created_at
    )
    public = to_public(customer, account)
    return CustomerCreated(**public.model_dump(), password=account_plan.generated_password)


async def get_customer(session: AsyncSession, customer_id: str) -> CustomerPublic:
    row = (
        await session.execute(
            select(Customer, Account)
            .join(Account, Account.customer_id == Customer.id)
            .where(Customer.id == customer_id)
        )
    ).first()
    if row is None:
        raise Problem(404, "Customer not found", f"no customer with id {customer_id}")
    return to_public(row[0], row[1])


# --- billing's events ------------------------------------------------------------------------


async def handle_subscription_activated(
    session: AsyncSession, outbox: EventSink, event: SubscriptionActivatedV1
) -> None:
    await handle_subscriptions_activated(session, outbox, [event])


async def handle_subscriptions_activated(
    session: AsyncSession,
    outbox: EventSink,
    events: Sequence[SubscriptionActivatedV1],
    traced: Traced = untraced,
) -> None:
    """Copy each subscription summary onto its customer; the first one of a webshop order
    answers the webshop (order.accepted, with the generated password, which is then
    forgotten). A batch's customers and orders are read with one select each and written
    with one UPDATE run each, without ORM objects."""
    found = await follow_activated_batch(session, events)
    keys = {(e.webshop_id, e.order_id) for e in events if e.order_id}
    if not keys:
        return
    orders = {
        (row.webshop_id, row.order_id): row
        for row in await session.execute(
            select(
                WEBSHOP_ORDER.c.webshop_id,
                WEBSHOP_ORDER.c.order_id,
                WEBSHOP_ORDER.c.reply,
                WEBSHOP_ORDER.c.generated_password,
            ).where(tuple_(WEBSHOP_ORDER.c.webshop_id, WEBSHOP_ORDER.c.order_id).in_(keys))
        )
    }
    answered: list[dict[str, Any]] = []
    for index, event in enumerate(events):
        with traced(index):
            login = found.get(event.customer_id)
            if not event.order_id or login is None:
                continue
            key = (event.webshop_id, event.order_id)
            pending = orders.pop(key, None)  # popped: a second summary of it finds none
            if pending is None or pending.reply != "pending":
                continue
            await outbox.add(
                session,
                OrderAcceptedV1(
                    order_id=event.order_id,
                    customer_id=event.customer_id,
                    login=login,
                    password=pending.generated_password,
                    expires_at=event.expires_at,
                ),
                topic=topics.WEBSHOP_REPLIES,
                key=event.order_id,
                subject=event.customer_id,
            )
            answered.append({"b_webshop": key[0], "b_order": key[1]})
    if answered:
        await session.execute(
            update(WEBSHOP_ORDER)
            .where(
                WEBSHOP_ORDER.c.webshop_id == bindparam("b_webshop"),
                WEBSHOP_ORDER.c.order_id == bindparam("b_order"),
            )
            .values(reply="accepted", generated_password=None),
            answered,
        )


async def handle_subscription_rejected(
    session: AsyncSession, outbox: Outbox, event: SubscriptionRejectedV1
) -> None:
    pending = await session.scalar(
        select(WebshopOrder).where(
            WebshopOrder.order_id == event.order_id, WebshopOrder.customer_id == event.customer_id
        )
    )
    if pending is None or pending.reply != "pending":
        return
    await outbox.add(
        session,
        OrderRejectedV1(order_id=event.order_id, reason=event.reason, code=event.code),
        topic=topics.WEBSHOP_REPLIES,
        key=event.order_id,
        subject=event.customer_id,
    )
    pending.reply = "rejected"
    pending.generated_password = None
