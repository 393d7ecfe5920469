"""The rules of the customers service: creating customers and accounts, resolving webshop buyers,
following billing's subscription events, and the customers list."""

import asyncio
import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts import topics
from services.contracts.billing import SubscriptionActivatedV1, SubscriptionRejectedV1
from services.contracts.customers import (
    CustomerCreatedV1,
    CustomerInfo,
    CustomerOrderPlacedV1,
    OrderPayment,
    SubscriptionOrder,
)
from services.contracts.webshop import OrderAcceptedV1, OrderPaidV1, OrderRejectedV1
from services.customers import credentials, profiles
from services.customers.models import Account, Customer, IdempotentRequest, WebshopOrder
from services.customers.schemas import (
    ACTIVE_STATUSES,
    INACTIVE_STATUSES,
    CustomerCreate,
    CustomerCreated,
    CustomerPage,
    CustomerPublic,
    SortKey,
    SubscriptionSummary,
)
from services.runtime.db import utcnow
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem


def _search_name(info: CustomerInfo) -> str:
    return f"{info.last_name} {info.first_name}".lower()


def to_public(customer: Customer, account: Account) -> CustomerPublic:
    return CustomerPublic(
        id=customer.id,
        status=customer.status,
        source=customer.source,
        login=account.login,
        webshop_id=customer.webshop_id,
        info=CustomerInfo(
            first_name=customer.first_name,
            last_name=customer.last_name,
            email=customer.email,
            phone=customer.phone,
            city=customer.city,
            country=customer.country,
        ),
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
                extra={"field": "credentials.login"},
            )
        password_hash = await asyncio.to_thread(credentials.hash_password, password)
        return NewAccount(login, password_hash, None)
    for _ in range(20):
        candidate = credentials.generate_login()
        if not await _login_taken(session, candidate):
            break
    else:  # pragma: no cover - 9e9 logins make twenty collisions in a row practically impossible
        raise Problem(503, "No free login", "could not find a free login; try again")
    generated = credentials.generate_password()
    password_hash = await asyncio.to_thread(credentials.hash_password, generated)
    return NewAccount(candidate, password_hash, generated)


async def _login_taken(session: AsyncSession, login: str) -> bool:
    return (await session.scalar(select(Account.login).where(Account.login == login))) is not None


def _new_customer(
    *, info: CustomerInfo, source: str, webshop_id: str, external_id: str | None = None
) -> Customer:
    now = utcnow()
    return Customer(
        id=str(uuid.uuid4()),
        status="pending",
        source=source,
        webshop_id=webshop_id,
        external_id=external_id,
        first_name=info.first_name,
        last_name=info.last_name,
        email=info.email,
        phone=info.phone,
        city=info.city,
        country=info.country,
        search_name=_search_name(info),
        search_first_name=info.first_name.lower(),
        search_email=info.email.lower() if info.email else None,
        created_at=now,
        updated_at=now,
        extra_product_ids=[],
    )


async def create_customer(
    session: AsyncSession, outbox: Outbox, payload: CustomerCreate, idempotency_key: str | None
) -> tuple[CustomerCreated, bool]:
    """Create customer + account and emit customer.created carrying the order.

    Returns the customer and whether it was created now (False: a retry of an earlier request).
    """
    if idempotency_key:
        earlier = await session.get(IdempotentRequest, idempotency_key)
        if earlier is not None:
            found = await get_customer(session, earlier.customer_id)
            return CustomerCreated(**found.model_dump()), False
    creds = payload.credentials
    account_plan = await prepare_account(
        session, creds.login if creds else None, creds.password if creds else None
    )
    customer = _new_customer(info=payload.info, source="manual", webshop_id=payload.webshop_id)
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
    if idempotency_key:
        session.add(
            IdempotentRequest(
                key=idempotency_key, customer_id=customer.id, created_at=customer.created_at
            )
        )
    await session.flush()
    order = SubscriptionOrder(
        order_id=f"op-{customer.id}",
        webshop_id=payload.webshop_id,
        product_id=payload.product_id,
        plan_id=payload.plan_id,
        extra_product_ids=payload.extra_product_ids,
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
    return CustomerCreated(**public.model_dump(), password=account_plan.generated_password), True


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


# --- webshop orders --------------------------------------------------------------------------


async def _resolve_buyer(session: AsyncSession, order: OrderPaidV1) -> Customer | None:
    buyer = order.buyer
    if buyer.external_id:
        found = await session.scalar(
            select(Customer).where(
                Customer.webshop_id == order.webshop_id, Customer.external_id == buyer.external_id
            )
        )
        if found is not None:
            return found
    return await session.scalar(
        select(Customer)
        .where(Customer.search_email == buyer.email.lower())
        .order_by(Customer.created_at)
        .limit(1)
    )


async def handle_order_paid(session: AsyncSession, outbox: Outbox, order: OrderPaidV1) -> None:
    """Resolve or create the buyer, then hand the order to billing (customer.order_placed)."""
    seen = await session.get(WebshopOrder, (order.webshop_id, order.order_id))
    if seen is not None:
        await _answer_repeated_order(session, outbox, seen)
        return
    customer = await _resolve_buyer(session, order)
    generated_password: str | None = None
    if customer is None:
        info = CustomerInfo(
            first_name=order.buyer.first_name,
            last_name=order.buyer.last_name,
            email=order.buyer.email,
            phone=order.buyer.phone,
            city=order.buyer.city,
            country=order.buyer.country,
        )
        creds = order.credentials
        if creds is not None and (
            credentials.login_problem(creds.login) or await _login_taken(session, creds.login)
        ):
            creds = None  # an unusable or taken login falls back to generated credentials
        plan = await prepare_account(
            session, creds.login if creds else None, creds.password if creds else None
        )
        generated_password = plan.generated_password
        customer = _new_customer(
            info=info,
            source="webshop",
            webshop_id=order.webshop_id,
            external_id=order.buyer.external_id,
        )
        account = Account(
            customer_id=customer.id,
            login=plan.login,
            password_hash=plan.password_hash,
            login_generated=creds is None,
            disabled=False,
            created_at=customer.created_at,
        )
        session.add(customer)
        await session.flush()
        session.add(account)
        await session.flush()
        await outbox.add(
            session,
            CustomerCreatedV1(
                customer_id=customer.id,
                source="webshop",
                webshop_id=order.webshop_id,
                login=plan.login,
                info=info,
                created_at=customer.created_at,
                order=None,
            ),
            topic=topics.CUSTOMERS_EVENTS,
            key=customer.id,
            subject=customer.id,
        )
        await profiles.create_default_profile(
            session, outbox, customer_id=customer.id, created_at=customer.created_at
        )
    elif order.buyer.external_id and customer.external_id is None:
        customer.external_id = order.buyer.external_id
    session.add(
        WebshopOrder(
            webshop_id=order.webshop_id,
            order_id=order.order_id,
            customer_id=customer.id,
            reply="pending",
            generated_password=generated_password,
            received_at=utcnow(),
        )
    )
    await outbox.add(
        session,
        CustomerOrderPlacedV1(
            customer_id=customer.id,
            order=SubscriptionOrder(
                order_id=order.order_id,
                webshop_id=order.webshop_id,
                product_id=order.product_id,
                plan_id=order.plan_id,
                extra_product_ids=order.extra_product_ids,
            ),
            payment=OrderPayment(
                amount=order.amount,
                currency=order.currency,
                paid_at=order.paid_at,
                provider=order.payment.provider,
                reference=order.payment.reference,
            ),
        ),
        topic=topics.CUSTOMERS_EVENTS,
        key=customer.id,
        subject=customer.id,
    )


async def _answer_repeated_order(session: AsyncSession, outbox: Outbox, seen: WebshopOrder) -> None:
    """A webshop resending an order lost our reply: answer again (the password went once)."""
    if seen.reply == "pending":
        return  # the reply goes out when billing answers
    customer = await session.get(Customer, seen.customer_id)
    account = await session.get(Account, seen.customer_id)
    if seen.reply == "accepted" and customer is not None and account is not None:
        reply: OrderAcceptedV1 | OrderRejectedV1 = OrderAcceptedV1(
            order_id=seen.order_id,
            customer_id=customer.id,
            login=account.login,
            password=None,
            expires_at=customer.expires_at,
        )
    else:
        reply = OrderRejectedV1(order_id=seen.order_id, reason="order was rejected earlier")
    await outbox.add(
        session, reply, topic=topics.WEBSHOP_REPLIES, key=seen.order_id, subject=seen.customer_id
    )


# --- billing's events ------------------------------------------------------------------------


def customer_status(subscription_status: str | None, disabled: bool) -> str:
    if disabled:
        return "disabled"
    if subscription_status in ("trial", "active", "expired", "pending"):
        return subscription_status
    return "expired" if subscription_status == "cancelled" else "pending"


async def handle_subscription_activated(
    session: AsyncSession, outbox: Outbox, event: SubscriptionActivatedV1
) -> None:
    customer = await session.get(Customer, event.customer_id)
    if customer is None:
        return  # erased meanwhile; nothing to follow
    account = await session.get(Account, event.customer_id)
    customer.product_id = event.product_id
    customer.plan_id = event.plan_id
    customer.extra_product_ids = list(event.extra_product_ids)
    customer.subscription_id = event.subscription_id
    customer.subscription_status = event.status
    customer.expires_at = event.expires_at
    customer.status = customer_status(event.status, account.disabled if account else False)
    customer.updated_at = utcnow()
    if event.order_id and account is not None:
        pending = await session.get(WebshopOrder, (event.webshop_id, event.order_id))
        if pending is not None and pending.reply == "pending":
            await outbox.add(
                session,
                OrderAcceptedV1(
                    order_id=event.order_id,
                    customer_id=customer.id,
                    login=account.login,
                    password=pending.generated_password,
                    expires_at=event.expires_at,
                ),
                topic=topics.WEBSHOP_REPLIES,
                key=event.order_id,
                subject=customer.id,
            )
            pending.reply = "accepted"
            pending.generated_password = None


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
        OrderRejectedV1(order_id=event.order_id, reason=event.reason),
        topic=topics.WEBSHOP_REPLIES,
        key=event.order_id,
        subject=event.customer_id,
    )
    pending.reply = "rejected"
    pending.generated_password = None


# --- the list --------------------------------------------------------------------------------

_FAR_PAST = "0001-01-01T00:00:00+00:00"


@dataclass(frozen=True)
class ListFilters:
    status: list[str] | None = None
    status_group: str | None = None
    source: str | None = None
    webshop_id: str | None = None
    product_id: str | None = None
    expires_before: datetime | None = None
    expires_after: datetime | None = None
    q: str | None = None


def _filter_clauses(f: ListFilters) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if f.status:
        clauses.append(Customer.status.in_(f.status))
    if f.status_group == "active":
        clauses.append(Customer.status.in_(ACTIVE_STATUSES))
    elif f.status_group == "inactive":
        clauses.append(Customer.status.in_(INACTIVE_STATUSES))
    if f.source:
        clauses.append(Customer.source == f.source)
    if f.webshop_id:
        clauses.append(Customer.webshop_id == f.webshop_id)
    if f.product_id:
        clauses.append(Customer.product_id == f.product_id)
    if f.expires_before:
        clauses.append(Customer.expires_at < f.expires_before)
    if f.expires_after:
        clauses.append(Customer.expires_at > f.expires_after)
    if f.q:
        prefix = f.q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = prefix + "%"
        clauses.append(
            or_(
                Customer.search_name.like(pattern, escape="\\"),
                Customer.search_first_name.like(pattern, escape="\\"),
                Customer.search_email.like(pattern, escape="\\"),
                Customer.phone.like(pattern, escape="\\"),
                Customer.id.in_(
                    select(Account.customer_id).where(
                        func.lower(Account.login).like(pattern, escape="\\")
                    )
                ),
            )
        )
    return clauses


def _sort_column(sort: SortKey) -> Any:
    name = sort.lstrip("-")
    if name == "name":
        return Customer.search_name
    if name == "expires_at":
        return Customer.expires_at
    return Customer.created_at


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: SortKey) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, last_id = json.loads(raw)
        if sort.lstrip("-") in ("created_at", "expires_at") and value is not None:
            value = datetime.fromisoformat(value)
        if not isinstance(last_id, str):
            raise ValueError
        return value, last_id
    except (ValueError, TypeError, json.JSONDecodeError) as error:
        raise Problem(
            400, "Bad cursor", "the cursor is not one this list gave out", extra={"field": "cursor"}
        ) from error


async def list_customers(
    session: AsyncSession,
    filters: ListFilters,
    *,
    sort: SortKey = "-created_at",
    limit: int = 50,
    cursor: str | None = None,
    with_total: bool = True,
) -> CustomerPage:
    """One page in keyset order (sort column, then id), so deep pages cost what the first does."""
    clauses = _filter_clauses(filters)
    column = _sort_column(sort)
    descending = sort.startswith("-")
    nullable = sort.lstrip("-") == "expires_at"
    key = func.coalesce(column, datetime.fromisoformat(_FAR_PAST)) if nullable else column
    query = select(Customer, Account).join(Account, Account.customer_id == Customer.id)
    page_clauses = list(clauses)
    if cursor:
        value, last_id = decode_cursor(cursor, sort)
        if nullable and value is None:
            value = datetime.fromisoformat(_FAR_PAST)
        if descending:
            page_clauses.append(or_(key < value, and_(key == value, Customer.id < last_id)))
        else:
            page_clauses.append(or_(key > value, and_(key == value, Customer.id > last_id)))
    order = (key.desc(), Customer.id.desc()) if descending else (key.asc(), Customer.id.asc())
    rows = (
        await session.execute(query.where(*page_clauses).order_by(*order).limit(limit + 1))
    ).all()
    items = [to_public(row[0], row[1]) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last: Customer = rows[limit - 1][0]
        sort_value = {"name": last.search_name, "expires_at": last.expires_at}.get(
            sort.lstrip("-"), last.created_at
        )
        next_cursor = encode_cursor([sort_value, last.id])
    total = None
    if with_total:
        total = await session.scalar(select(func.count()).select_from(Customer).where(*clauses))
    return CustomerPage(items=items, next_cursor=next_cursor, total=total)
