"""A paid webshop order: the buyer is found (external id, then e-mail) or created, billing gets
customer.order_placed, and the webshop gets its reply when billing has answered."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from services.contracts import topics
from services.contracts.billing import SubscriptionActivatedV1, SubscriptionRejectedV1
from services.contracts.customers import CustomerInfo
from services.contracts.envelope import CloudEvent
from services.contracts.webshop import Buyer, Credentials, OrderPaidV1, Payment
from services.customers import credentials, models, service, webshop_orders
from services.customers.models import Account, Customer, WebshopOrder
from services.customers.schemas import CustomerCreate
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.tests._helpers import OutboxRow, envelope_bytes, of_type, outbox_rows

CREATED = "customer.created.v1"
PLACED = "customer.order_placed.v1"
ACCEPTED = "order.accepted.v1"
REJECTED = "order.rejected.v1"


def paid(
    order_id: str = "o-1",
    *,
    email: str = "buyer@example.com",
    external_id: str | None = "ext-1",
    creds: Credentials | None = None,
) -> OrderPaidV1:
    return OrderPaidV1(
        order_id=order_id,
        webshop_id="shop-eu",
        buyer=Buyer(external_id=external_id, email=email, first_name="Ann", last_name="Buyer"),
        product_id="basic",
        plan_id="basic-1m",
        extra_product_ids=["hbo"],
        amount=Decimal("9.99"),
        currency="EUR",
        paid_at=datetime(2025, 1, 2, tzinfo=UTC),
        payment=Payment(provider="stripe", reference=f"pay-{order_id}"),
        credentials=creds,
    )


async def handle(db: Database, outbox: Outbox, order: OrderPaidV1) -> None:
    async with db.transaction() as session:
        await webshop_orders.handle_order_paid(session, outbox, order)


async def events(db: Database) -> list[OutboxRow]:
    return await outbox_rows(db, models.outbox)


async def customers(db: Database) -> list[Customer]:
    async with db.sessions() as session:
        return list((await session.scalars(select(Customer).order_by(Customer.created_at))).all())


async def webshop_order(db: Database, order_id: str = "o-1") -> WebshopOrder:
    async with db.sessions() as session:
        found = await session.get(WebshopOrder, ("shop-eu", order_id))
    assert found is not None
    return found


async def existing_customer(
    db: Database, outbox: Outbox, email: str, external_id: str | None = None
) -> str:
    """A customer created by an operator (outbox rows of it are left in the outbox)."""
    async with db.transaction() as session:
        created = await service.create_customer(
            session,
            outbox,
            CustomerCreate(
                webshop_id="shop-eu",
                product_id="basic",
                plan_id="basic-1m",
                info=CustomerInfo(first_name="Old", last_name="Customer", email=email),
            ),
        )
        if external_id:
            customer = await session.get(Customer, created.id)
            assert customer is not None
            customer.external_id = external_id
    return created.id


def activated(customer_id: str, order_id: str | None = "o-1") -> SubscriptionActivatedV1:
    return SubscriptionActivatedV1(
        customer_id=customer_id,
        subscription_id="sub-1",
        order_id=order_id,
        action="opened",
        webshop_id="shop-eu",
        product_id="basic",
        plan_id="basic-1m",
        extra_product_ids=["hbo"],
        status="active",
        starts_at=datetime(2025, 1, 2, tzinfo=UTC),
        expires_at=datetime(2025, 2, 2, tzinfo=UTC),
        max_devices=2,
    )


async def on_activated(db: Database, outbox: Outbox, event: SubscriptionActivatedV1) -> None:
    async with db.transaction() as session:
        await service.handle_subscription_activated(session, outbox, event)


async def test_a_new_buyer_becomes_a_webshop_customer_and_the_order_goes_to_billing(
    db: Database, outbox: Outbox
) -> None:
    await handle(db, outbox, paid())

    [customer] = await customers(db)
    assert (customer.source, customer.webshop_id, customer.external_id) == (
        "webshop",
        "shop-eu",
        "ext-1",
    )
    assert (customer.first_name, customer.email, customer.status) == (
        "Ann",
        "buyer@example.com",
        "pending",
    )
    rows = await events(db)
    assert [r.type for r in rows] == [CREATED, "profile.created.v1", PLACED]
    assert {(r.topic, r.key) for r in rows} == {(topics.CUSTOMERS_EVENTS, customer.id)}
    assert rows[0].data["order"] is None  # the order travels in order_placed, once
    placed = rows[2].data
    assert placed["customer_id"] == customer.id
    assert placed["order"] == {
        "order_id": "o-1",
        "webshop_id": "shop-eu",
        "product_id": "basic",
        "plan_id": "basic-1m",
        "extra_product_ids": ["hbo"],
        "operator_payment": None,
    }
    assert placed["payment"]["amount"] == "9.99"
    assert placed["payment"]["reference"] == "pay-o-1"
    pending = await webshop_order(db)
    assert (pending.customer_id, pending.reply) == (customer.id, "pending")
    async with db.sessions() as session:
        account = await session.get(Account, customer.id)
    assert account is not None and account.login_generated
    assert pending.generated_password is not None
    assert credentials.verify_password(account.password_hash, pending.generated_password)


async def test_a_new_buyer_with_usable_credentials_gets_them(db: Database, outbox: Outbox) -> None:
    await handle(db, outbox, paid(creds=Credentials(login="ann.buyer", password="ann-secret")))

    [customer] = await customers(db)
    async with db.sessions() as session:
        account = await session.get(Account, customer.id)
    assert account is not None
    assert (account.login, account.login_generated) == ("ann.buyer", False)
    assert credentials.verify_password(account.password_hash, "ann-secret")
    assert (await webshop_order(db)).generated_password is None


async def test_a_taken_webshop_login_falls_back_to_generated_credentials(
    db: Database, outbox: Outbox
) -> None:
    await handle(
        db,
        outbox,
        paid(
            "o-1",
            email="a@example.com",
            external_id="a",
            creds=Credentials(login="ann.buyer", password="ann-secret"),
        ),
    )
    await handle(
        db,
        outbox,
        paid(
            "o-2",
            email="b@example.com",
            external_id="b",
            creds=Credentials(login="ann.buyer", password="other-secret"),
        ),
    )

    second = await webshop_order(db, "o-2")
    async with db.sessions() as session:
        account = await session.get(Account, second.customer_id)
    assert account is not None
    assert account.login_generated and account.login.isdecimal()
    assert second.generated_password is not None


async def test_an_existing_buyer_is_found_by_external_id_before_email(
    db: Database, outbox: Outbox
) -> None:
    by_external = await existing_customer(db, outbox, "first@example.com", external_id="ext-1")
    await existing_customer(db, outbox, "buyer@example.com")  # matches the e-mail only

    await handle(db, outbox, paid(email="buyer@example.com", external_id="ext-1"))

    assert len(await customers(db)) == 2
    [placed] = of_type(await events(db), PLACED)
    assert placed.data["customer_id"] == by_external
    assert placed.key == by_external
    assert len(of_type(await events(db), CREATED)) == 2  # the two operator-created ones only


async def test_an_existing_buyer_is_found_by_email_case_insensitively(
    db: Database, outbox: Outbox
) -> None:
    known = await existing_customer(db, outbox, "Buyer@Example.com")

    await handle(db, outbox, paid(email="buyer@EXAMPLE.com", external_id="ext-9"))

    [customer] = await customers(db)
    assert customer.id == known
    assert customer.external_id == "ext-9"  # remembered for the next order
    [placed] = of_type(await events(db), PLACED)
    assert placed.data["customer_id"] == known


async def test_the_same_order_twice_places_it_once(db: Database, outbox: Outbox) -> None:
    await handle(db, outbox, paid())
    await handle(db, outbox, paid())

    assert len(await customers(db)) == 1
    assert len(of_type(await events(db), PLACED)) == 1
    assert len(of_type(await events(db), CREATED)) == 1


async def test_subscription_activated_makes_the_customer_active_and_accepts_the_order(
    db: Database, outbox: Outbox
) -> None:
    await handle(db, outbox, paid())
    [customer] = await customers(db)
    password = (await webshop_order(db)).generated_password
    assert password is not None

    await on_activated(db, outbox, activated(customer.id))

    [updated] = await customers(db)
    assert (updated.status, updated.subscription_status) == ("active", "active")
    assert (updated.product_id, updated.plan_id, updated.extra_product_ids) == (
        "basic",
        "basic-1m",
        ["hbo"],
    )
    assert updated.expires_at == datetime(2025, 2, 2, tzinfo=UTC)
    [reply] = of_type(await events(db), ACCEPTED)
    assert (reply.topic, reply.key) == (topics.WEBSHOP_REPLIES, "o-1")
    async with db.sessions() as session:
        account = await session.get(Account, customer.id)
    assert account is not None
    assert reply.data["customer_id"] == customer.id
    assert reply.data["login"] == account.login
    assert reply.data["password"] == password
    assert datetime.fromisoformat(reply.data["expires_at"]) == datetime(2025, 2, 2, tzinfo=UTC)
    # Once the reply is in the outbox the plain password is wiped.
    stored = await webshop_order(db)
    assert (stored.reply, stored.generated_password) == ("accepted", None)


async def test_a_replayed_activation_does_not_accept_the_order_twice(
    db: Database, outbox: Outbox
) -> None:
    await handle(db, outbox, paid())
    [customer] = await customers(db)

    await on_activated(db, outbox, activated(customer.id))
    await on_activated(db, outbox, activated(customer.id))

    assert len(of_type(await events(db), ACCEPTED)) == 1


async def test_a_resent_order_after_acceptance_is_answered_again_without_the_password(
    db: Database, outbox: Outbox
) -> None:
    await handle(db, outbox, paid())
    [customer] = await customers(db)
    await on_activated(db, outbox, activated(customer.id))

    await handle(db, outbox, paid())

    first, again = of_type(await events(db), ACCEPTED)
    assert first.data["password"] is not None
    assert again.data["password"] is None
    assert again.data["login"] == first.data["login"]
    assert len(of_type(await events(db), PLACED)) == 1


async def test_a_rejected_subscription_rejects_the_pending_order_and_wipes_the_password(
    db: Database, outbox: Outbox
) -> None:
    await handle(db, outbox, paid())
    [customer] = await customers(db)
    rejection = SubscriptionRejectedV1(
        customer_id=customer.id,
        order_id="o-1",
        reason="paid 0.01 EUR but the catalog charges 9.99 EUR",
        code="amount_mismatch",
    )

    for _ in range(2):
        async with db.transaction() as session:
            await service.handle_subscription_rejected(session, outbox, rejection)

    [reply] = of_type(await events(db), REJECTED)
    assert (reply.topic, reply.key) == (topics.WEBSHOP_REPLIES, "o-1")
    assert reply.data["reason"] == "paid 0.01 EUR but the catalog charges 9.99 EUR"
    assert reply.data["code"] == "amount_mismatch"
    stored = await webshop_order(db)
    assert (stored.reply, stored.generated_password) == ("rejected", None)


async def test_an_activation_without_a_webshop_order_updates_the_customer_only(
    db: Database, outbox: Outbox
) -> None:
    known = await existing_customer(db, outbox, "old@example.com")
    renewal = activated(known, order_id=f"op-{known}")
    renewal = renewal.model_copy(
        update={"expires_at": datetime(2025, 1, 2, tzinfo=UTC) + timedelta(days=400)}
    )

    await on_activated(db, outbox, renewal)

    [customer] = await customers(db)
    assert customer.status == "active"
    assert of_type(await events(db), ACCEPTED) == []
    async with db.sessions() as session:
        orders = await session.scalar(select(func.count()).select_from(WebshopOrder))
    assert orders == 0


async def test_an_invalid_order_with_a_readable_id_is_rejected_and_nothing_kept(
    db: Database, outbox: Outbox
) -> None:
    data = paid("o-neg").model_dump(mode="json") | {"amount": "-19.99"}
    event = CloudEvent.model_validate_json(envelope_bytes(OrderPaidV1.event_type, data))
    reason = "order.paid.v1 violates its schema: amount: Input should be >= 0"

    async with db.transaction() as session:
        await webshop_orders.handle_invalid_order(session, outbox, event, reason)

    [reply] = await events(db)
    assert (reply.type, reply.topic, reply.key) == (REJECTED, topics.WEBSHOP_REPLIES, "o-neg")
    assert (reply.data["code"], reply.data["reason"]) == ("invalid_order", reason)
    assert await customers(db) == []
    async with db.sessions() as session:
        assert await session.get(WebshopOrder, ("shop-eu", "o-neg")) is None


async def test_an_invalid_order_without_a_usable_id_gets_no_reply(
    db: Database, outbox: Outbox
) -> None:
    for order_id in (None, "", 42, "x" * 201):
        data = {"order_id": order_id, "amount": "-1"}
        event = CloudEvent.model_validate_json(envelope_bytes(OrderPaidV1.event_type, data))
        async with db.transaction() as session:
            await webshop_orders.handle_invalid_order(session, outbox, event, "bad")
    assert await events(db) == []


async def test_a_mangled_resend_of_a_known_order_gets_no_rejection(
    db: Database, outbox: Outbox
) -> None:
    await handle(db, outbox, paid("o-1"))
    before = await events(db)
    data = paid("o-1").model_dump(mode="json") | {"amount": "-9.99"}
    event = CloudEvent.model_validate_json(envelope_bytes(OrderPaidV1.event_type, data))

    async with db.transaction() as session:
        await webshop_orders.handle_invalid_order(session, outbox, event, "amount: negative")

    assert await events(db) == before
    assert (await webshop_order(db)).reply == "pending"
