"""The rules of the customers service: creating customers and accounts, resolving webshop buyers,
following billing's subscription events. (The list is in listing.py, edits in editing.py, the
account in account.py.)"""

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Row, func, select
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
from services.contracts.envelope import CloudEvent
from services.contracts.webshop import OrderAcceptedV1, OrderId, OrderPaidV1, OrderRejectedV1
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
from services.customers.status import STATUS_RANK, follow_activated
from services.runtime.db import utcnow
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem, field_error


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


async def login_owner(session: AsyncSession, login: str) -> str | None:
    """The customer whose login is `login` ignoring case (logins are unique that way)."""
    return await session.scalar(
        select(Account.customer_id).where(func.lower(Account.login) == login.lower())
    )


async def _login_taken(session: AsyncSession, login: str) -> bool:
    return (await login_owner(session, login)) is not None


def _new_customer(
    *,
    info: CustomerInfo,
    login: str,
    source: str,
    webshop_id: str,
    external_id: str | None = None,
) -> Customer:
    now = utcnow()
    customer = Customer(
        id=str(uuid.uuid4()),
        status="pending",
        status_rank=STATUS_RANK["pending"],
        source=source,
        webshop_id=webshop_id,
        external_id=external_id,
        title=info.title,
        email=info.email,
        phone=info.phone,
        mobile=info.mobile,
        street=info.street,
        zip=info.zip,
        city=info.city,
        state=info.state,
        country=info.country,
        comments=info.comments,
        mapping_id=info.mapping_id,
        search_email=info.email.lower() if info.email else None,
        search_login=login.lower(),
        created_at=now,
        updated_at=now,
        extra_product_ids=[],
    )
    set_names(customer, info.first_name, info.last_name)
    return customer


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
            login=plan.login,
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


ORDER_ID: TypeAdapter[str] = TypeAdapter(OrderId)


async def handle_invalid_order(
    session: AsyncSession, outbox: Outbox, event: CloudEvent, reason: str
) -> None:
    """An order.paid that violates its schema (a negative amount, an unknown currency code) went
    to the dead-letter topic; the webshop still gets a rejection when its order id can be read.
    Nothing is remembered of it, so a corrected order under the same id is taken as new."""
    try:
        order_id = ORDER_ID.validate_python(event.data.get("order_id"), strict=True)
    except ValidationError:
        return  # nothing to answer to: the dead-letter topic is all there is
    webshop_id = event.data.get("webshop_id")
    if isinstance(webshop_id, str):
        known = await session.get(WebshopOrder, (webshop_id, order_id))
        if known is not None:
            return  # a mangled resend of a known order does not revoke the answer it had
    await outbox.add(
        session,
        OrderRejectedV1(order_id=order_id, reason=reason, code="invalid_order"),
        topic=topics.WEBSHOP_REPLIES,
        key=order_id,
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
        reply = OrderRejectedV1(
            order_id=seen.order_id, reason="order was rejected earlier", code="rejected_earlier"
        )
    await outbox.add(
        session, reply, topic=topics.WEBSHOP_REPLIES, key=seen.order_id, subject=seen.customer_id
    )


# --- billing's events ------------------------------------------------------------------------


async def handle_subscription_activated(
    session: AsyncSession, outbox: Outbox, event: SubscriptionActivatedV1
) -> None:
    customer = await session.get(Customer, event.customer_id)
    if customer is None:
        return  # erased meanwhile; nothing to follow
    account = await session.get(Account, event.customer_id)
    follow_activated(customer, event, disabled=account.disabled if account else False)
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
        OrderRejectedV1(order_id=event.order_id, reason=event.reason, code=event.code),
        topic=topics.WEBSHOP_REPLIES,
        key=event.order_id,
        subject=event.customer_id,
    )
    pending.reply = "rejected"
    pending.generated_password = None
