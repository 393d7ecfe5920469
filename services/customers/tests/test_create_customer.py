"""create_customer: the customer, their account and customer.created (with the order) in one
transaction; generated credentials shown once and only hashed at rest; retries answered alike."""

import pytest
from sqlalchemy import func, select

from services.contracts import topics
from services.contracts.customers import CustomerInfo, OperatorPayment
from services.customers import credentials, models, service
from services.customers.models import Account, Customer
from services.customers.schemas import CredentialsIn, CustomerCreate, CustomerCreated
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem
from services.runtime.tests._helpers import of_type, outbox_rows

INFO = CustomerInfo(
    first_name="Jane", last_name="Doe", email="Jane.Doe@Example.com", phone="+420777000111"
)


def payload(creds: CredentialsIn | None = None) -> CustomerCreate:
    return CustomerCreate(
        webshop_id="shop-eu",
        product_id="basic",
        plan_id="basic-1m",
        extra_product_ids=["hbo"],
        info=INFO,
        credentials=creds,
    )


async def create(db: Database, outbox: Outbox, body: CustomerCreate) -> CustomerCreated:
    async with db.transaction() as session:
        return await service.create_customer(session, outbox, body)


async def account_of(db: Database, customer_id: str) -> Account:
    async with db.sessions() as session:
        account = await session.get(Account, customer_id)
    assert account is not None
    return account


async def count(db: Database, model: type[Customer] | type[Account]) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_create_customer_writes_account_and_customer_created_with_the_order(
    db: Database, outbox: Outbox
) -> None:
    created = await create(db, outbox, payload())

    assert (created.status, created.source, created.webshop_id) == ("pending", "manual", "shop-eu")
    assert created.info == INFO
    [row] = of_type(await outbox_rows(db, models.outbox), "customer.created.v1")
    assert (row.type, row.topic, row.key) == (
        "customer.created.v1",
        topics.CUSTOMERS_EVENTS,
        created.id,
    )
    assert row.data["customer_id"] == created.id
    assert row.data["login"] == created.login
    assert row.data["source"] == "manual"
    assert row.data["order"] == {
        "order_id": f"op-{created.id}",
        "webshop_id": "shop-eu",
        "product_id": "basic",
        "plan_id": "basic-1m",
        "extra_product_ids": ["hbo"],
        "operator_payment": None,
    }


async def test_how_the_sale_was_paid_travels_with_the_order_to_billing(
    db: Database, outbox: Outbox
) -> None:
    paid = payload().model_copy(
        update={"payment": OperatorPayment(method="cash", reference="receipt 12")}
    )
    await create(db, outbox, paid)

    [row] = of_type(await outbox_rows(db, models.outbox), "customer.created.v1")
    assert row.data["order"]["operator_payment"] == {"method": "cash", "reference": "receipt 12"}


async def test_generated_password_is_returned_once_and_only_its_hash_is_stored(
    db: Database, outbox: Outbox
) -> None:
    created = await create(db, outbox, payload())

    assert created.password is not None and created.password.isdecimal()
    assert len(created.login) == 10 and created.login.isdecimal() and created.login[0] != "0"
    account = await account_of(db, created.id)
    assert account.login == created.login
    assert account.login_generated
    assert account.password_hash != created.password
    assert credentials.verify_password(account.password_hash, created.password)
    # The password is in no event and no other column.
    [row] = of_type(await outbox_rows(db, models.outbox), "customer.created.v1")
    assert created.password not in row.event.model_dump_json()
    async with db.sessions() as session:
        customer = await session.get(Customer, created.id)
    assert customer is not None
    assert created.password not in repr(
        {c.key: getattr(customer, c.key) for c in Customer.__table__.columns}
    )
    # Read back later, the customer has no password any more.
    async with db.sessions() as session:
        again = await service.get_customer(session, created.id)
    assert "password" not in again.model_dump()


async def test_custom_credentials_are_kept_and_no_password_is_returned(
    db: Database, outbox: Outbox
) -> None:
    created = await create(
        db, outbox, payload(CredentialsIn(login="jane.doe", password="correct-horse"))
    )

    assert created.login == "jane.doe"
    assert created.password is None
    account = await account_of(db, created.id)
    assert not account.login_generated
    assert credentials.verify_password(account.password_hash, "correct-horse")


async def test_a_taken_custom_login_is_refused_with_409(db: Database, outbox: Outbox) -> None:
    await create(db, outbox, payload(CredentialsIn(login="jane.doe", password="first-pass")))

    with pytest.raises(Problem) as problem:
        await create(db, outbox, payload(CredentialsIn(login="jane.doe", password="other-pass")))

    assert problem.value.status == 409
    assert problem.value.extra == {
        "errors": [{"field": "credentials.login", "message": "already in use"}]
    }
    assert await count(db, Customer) == 1
    # customer.created and the default profile's profile.created, of the first only
    assert len(await outbox_rows(db, models.outbox)) == 2


async def test_get_customer_of_an_unknown_id_is_404(db: Database) -> None:
    async with db.sessions() as session:
        with pytest.raises(Problem) as problem:
            await service.get_customer(session, "no-such-customer")
    assert problem.value.status == 404
