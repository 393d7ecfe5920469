"""Paid webshop orders (order.paid.v1): the buyer resolved or created, the order handed to
billing (customer.order_placed.v1), the webshop answered once billing has.

A partition's run of orders is applied together: the orders seen before, the buyers and the
logins in use each read with one select, the new buyers' passwords hashed side by side in the
hash pool, customers, accounts, profiles and orders written as multi-row inserts. The rules are
those of one order at a time, walked in arrival order, so a buyer's second order in a batch
finds the customer its first created.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Table, bindparam, func, insert, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from services.contracts import topics
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
from services.customers.profiles import service as profiles
from services.customers.profiles.models import Profile
from services.customers.service import new_customer_row
from services.runtime.consumer import Traced, untraced
from services.runtime.db import utcnow
from services.runtime.outbox import EventSink
from services.runtime.problems import Problem

CUSTOMER = cast(Table, Customer.__table__)
ACCOUNT = cast(Table, Account.__table__)
PROFILE = cast(Table, Profile.__table__)
WEBSHOP_ORDER = cast(Table, WebshopOrder.__table__)


@dataclass
class _Buyers:
    """The customers a batch's buyers may be, as the one-at-a-time lookups would find them:
    by webshop + external id first, else the oldest with the e-mail address."""

    by_external: dict[tuple[str, str], str] = field(default_factory=dict)
    by_email: dict[str, str] = field(default_factory=dict)
    # id -> (webshop_id, external_id) of each known customer
    keys: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    def know(self, id_: str, webshop_id: str, external_id: str | None, email: str | None) -> None:
        self.keys[id_] = (webshop_id, external_id)
        if external_id is not None:
            self.by_external.setdefault((webshop_id, external_id), id_)
        if email is not None:
            # Known in age order: the first one kept is the oldest.
            self.by_email.setdefault(email, id_)

    def resolve(self, order: OrderPaidV1) -> str | None:
        external_id = order.buyer.external_id
        if external_id:
            found = self.by_external.get((order.webshop_id, external_id))
            if found is not None:
                return found
        return self.by_email.get(order.buyer.email.lower())

    def adopt_external_id(self, id_: str, external_id: str) -> bool:
        """The buyer was found by e-mail and the customer has no external id yet: it takes the
        webshop's. Returns whether it did."""
        webshop_id, current = self.keys[id_]
        if current is not None:
            return False
        self.keys[id_] = (webshop_id, external_id)
        self.by_external.setdefault((webshop_id, external_id), id_)
        return True


async def _known_buyers(session: AsyncSession, orders: Sequence[OrderPaidV1]) -> _Buyers:
    pairs = {(o.webshop_id, o.buyer.external_id) for o in orders if o.buyer.external_id}
    emails = {o.buyer.email.lower() for o in orders}
    match: ColumnElement[bool] = CUSTOMER.c.search_email.in_(emails)
    if pairs:
        match = or_(tuple_(CUSTOMER.c.webshop_id, CUSTOMER.c.external_id).in_(pairs), match)
    rows = await session.execute(
        select(
            CUSTOMER.c.id, CUSTOMER.c.webshop_id, CUSTOMER.c.external_id, CUSTOMER.c.search_email
        )
        .where(match)
        .order_by(CUSTOMER.c.created_at, CUSTOMER.c.id)
    )
    buyers = _Buyers()
    for row in rows:
        buyers.know(row.id, row.webshop_id, row.external_id, row.search_email)
    return buyers


@dataclass
class _Logins:
    """Logins for new accounts: custom ones checked, generated ones drawn from candidates that
    one select found free, each handed out once (logins are unique ignoring case)."""

    taken: set[str]
    candidates: list[str]

    def usable(self, login: str) -> bool:
        return credentials.login_problem(login) is None and login.lower() not in self.taken

    def take(self, login: str) -> str:
        self.taken.add(login.lower())
        return login

    async def generated(self, session: AsyncSession) -> str:
        while self.candidates:
            candidate = self.candidates.pop()
            if candidate.lower() not in self.taken:
                return self.take(candidate)
        for _ in range(20):  # every candidate was taken: one at a time, as for the API
            candidate = credentials.generate_login()
            if candidate.lower() not in self.taken and not await _login_in_use(session, candidate):
                return self.take(candidate)
        # 9e9 logins make this practically impossible.
        raise Problem(503, "No free login", "could not find a free login; try again")


async def _login_in_use(session: AsyncSession, login: str) -> bool:
    found = await session.scalar(
        select(ACCOUNT.c.customer_id).where(func.lower(ACCOUNT.c.login) == login.lower())
    )
    return found is not None


async def _logins(session: AsyncSession, orders: Sequence[OrderPaidV1]) -> _Logins:
    custom = [o.credentials.login for o in orders if o.credentials is not None]
    candidates = [credentials.generate_login() for _ in orders]
    asked = {login.lower() for login in [*custom, *candidates]}
    taken = set(
        (
            await session.scalars(
                select(func.lower(ACCOUNT.c.login)).where(func.lower(ACCOUNT.c.login).in_(asked))
            )
        ).all()
    )
    return _Logins(taken, candidates)


@dataclass
class _NewAccount:
    customer: dict[str, Any]
    login: str
    password: str
    login_generated: bool


async def handle_orders_paid(
    session: AsyncSession,
    outbox: EventSink,
    orders: Sequence[OrderPaidV1],
    traced: Traced = untraced,
) -> None:
    """Resolve or create each order's buyer, then hand the order to billing
    (customer.order_placed); an order seen before is answered again, or waits for billing.
    Each order's work runs in `traced(i)` (its own span: its events continue its trace)."""
    if not orders:
        return
    keys = {(o.webshop_id, o.order_id) for o in orders}
    seen = {
        (o.webshop_id, o.order_id): o
        for o in (
            await session.scalars(
                select(WebshopOrder).where(
                    tuple_(WebshopOrder.webshop_id, WebshopOrder.order_id).in_(keys)
                )
            )
        ).all()
    }
    buyers = await _known_buyers(session, orders)
    logins = await _logins(session, orders)
    new_accounts: list[_NewAccount] = []
    profile_rows: list[dict[str, Any]] = []
    order_rows: list[dict[str, Any]] = []
    adopted: list[dict[str, Any]] = []
    placed: set[tuple[str, str]] = set()
    for index, order in enumerate(orders):
        with traced(index):
            key = (order.webshop_id, order.order_id)
            if key in seen:
                await _answer_repeated_order(session, outbox, seen[key])
                continue
            if key in placed:
                continue  # the same order twice in one batch: its reply goes when billing answers
            placed.add(key)
            customer_id = buyers.resolve(order)
            generated_password: str | None = None
            if customer_id is None:
                info = CustomerInfo(
                    first_name=order.buyer.first_name,
                    last_name=order.buyer.last_name,
                    email=order.buyer.email,
                    phone=order.buyer.phone,
                    city=order.buyer.city,
                    country=order.buyer.country,
                )
                creds = order.credentials
                if creds is not None and logins.usable(creds.login):
                    login, password = logins.take(creds.login), creds.password
                else:
                    # An unusable or taken login falls back to generated credentials.
                    creds = None
                    login = await logins.generated(session)
                    password = generated_password = credentials.generate_password()
                row = new_customer_row(
                    info=info,
                    login=login,
                    source="webshop",
                    webshop_id=order.webshop_id,
                    external_id=order.buyer.external_id,
                )
                customer_id = row["id"]
                buyers.know(
                    customer_id, order.webshop_id, order.buyer.external_id, row["search_email"]
                )
                new_accounts.append(_NewAccount(row, login, password, creds is None))
                await outbox.add(
                    session,
                    CustomerCreatedV1(
                        customer_id=customer_id,
                        source="webshop",
                        webshop_id=order.webshop_id,
                        login=login,
                        info=info,
                        created_at=row["created_at"],
                        order=None,
                    ),
                    topic=topics.CUSTOMERS_EVENTS,
                    key=customer_id,
                    subject=customer_id,
                )
                profile = profiles.default_profile_row(customer_id, row["created_at"])
                profile_rows.append(profile)
                await profiles.announce_created(session, outbox, profile)
            elif order.buyer.external_id and buyers.adopt_external_id(
                customer_id, order.buyer.external_id
            ):
                adopted.append({"b_id": customer_id, "b_external_id": order.buyer.external_id})
            order_rows.append(
                {
                    "webshop_id": order.webshop_id,
                    "order_id": order.order_id,
                    "customer_id": customer_id,
                    "reply": "pending",
                    "generated_password": generated_password,
                    "received_at": utcnow(),
                }
            )
            await outbox.add(session, _placed(order, customer_id), **_to_billing(customer_id))
    await _write(session, new_accounts, profile_rows, order_rows, adopted)


async def _write(
    session: AsyncSession,
    new_accounts: list[_NewAccount],
    profile_rows: list[dict[str, Any]],
    order_rows: list[dict[str, Any]],
    adopted: list[dict[str, Any]],
) -> None:
    # Parameters as lists: one multi-row INSERT each, from a statement compiled once.
    if new_accounts:
        hashes = await credentials.hash_passwords([a.password for a in new_accounts])
        await session.execute(insert(CUSTOMER), [a.customer for a in new_accounts])
        await session.execute(
            insert(ACCOUNT),
            [
                {
                    "customer_id": a.customer["id"],
                    "login": a.login,
                    "password_hash": password_hash,
                    "login_generated": a.login_generated,
                    "disabled": False,
                    "created_at": a.customer["created_at"],
                }
                for a, password_hash in zip(new_accounts, hashes, strict=True)
            ],
        )
        await session.execute(insert(PROFILE), profile_rows)
    if adopted:
        await session.execute(
            update(CUSTOMER)
            .where(CUSTOMER.c.id == bindparam("b_id"), CUSTOMER.c.external_id.is_(None))
            .values(external_id=bindparam("b_external_id")),
            adopted,
        )
    if order_rows:
        await session.execute(insert(WEBSHOP_ORDER), order_rows)


def _placed(order: OrderPaidV1, customer_id: str) -> CustomerOrderPlacedV1:
    return CustomerOrderPlacedV1(
        customer_id=customer_id,
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
    )


def _to_billing(customer_id: str) -> dict[str, Any]:
    return {"topic": topics.CUSTOMERS_EVENTS, "key": customer_id, "subject": customer_id}


async def handle_order_paid(session: AsyncSession, outbox: EventSink, order: OrderPaidV1) -> None:
    """One order: a batch of one."""
    await handle_orders_paid(session, outbox, [order])


ORDER_ID: TypeAdapter[str] = TypeAdapter(OrderId)


async def handle_invalid_order(
    session: AsyncSession, outbox: EventSink, event: CloudEvent, reason: str
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


async def _answer_repeated_order(
    session: AsyncSession, outbox: EventSink, seen: WebshopOrder
) -> None:
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
