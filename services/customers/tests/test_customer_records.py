"""Editing a customer, the account (disable/enable, login, password reset, last login) and the
status following billing's events: the rows, the events emitted, and what retries do."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from services.contracts.apps import DeviceConnectedV1
from services.contracts.billing import (
    SubscriptionAction,
    SubscriptionActivatedV1,
    SubscriptionCancelledV1,
    SubscriptionExpiredV1,
    SubscriptionStatus,
)
from services.contracts.contact import CustomerInfoPatch
from services.contracts.customers import CustomerInfo
from services.customers import (
    credentials,
    editing,
    listing,
    models,
    service,
    status,
)
from services.customers.account import service as account
from services.customers.models import Account, Customer
from services.customers.schemas import AccountUpdate, CustomerCreate, CustomerUpdate
from services.customers.stats import service as stats
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem
from services.runtime.tests._helpers import outbox_rows

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


async def new_customer(
    db: Database, outbox: Outbox, first: str = "Jane", last: str = "Doe", login: str | None = None
) -> str:
    creds = {"login": login, "password": "secret-1"} if login else None
    body = CustomerCreate.model_validate(
        {
            "webshop_id": "shop-eu",
            "product_id": "basic",
            "plan_id": "basic-1m",
            "info": CustomerInfo(first_name=first, last_name=last, email=f"{first}@example.com"),
            "credentials": creds,
        }
    )
    async with db.transaction() as session:
        created = await service.create_customer(session, outbox, body)
    return created.id


async def rows_of(db: Database, customer_id: str) -> tuple[Customer, Account]:
    async with db.sessions() as session:
        return await editing.load(session, customer_id)


async def events(db: Database, kind: str) -> list[dict[str, Any]]:
    return [
        row.event.data for row in await outbox_rows(db, models.outbox) if row.event.type == kind
    ]


async def patch(db: Database, outbox: Outbox, customer_id: str, body: dict[str, Any]) -> Any:
    async with db.transaction() as session:
        return await editing.update_customer(
            session, outbox, customer_id, CustomerUpdate.model_validate(body)
        )


# --- info ------------------------------------------------------------------------------------


async def test_edit_changes_only_the_fields_sent_and_emits_customer_updated(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await new_customer(db, outbox)

    updated = await patch(
        db,
        outbox,
        customer_id,
        {
            "info": {
                "title": "Dr",
                "last_name": "Roe",
                "mobile": "+420 777 000 111",
                "street": "Main 1",
                "zip": "60200",
                "city": "Brno",
                "state": "JM",
                "country": "cz",
                "comments": "prefers e-mail",
                "mapping_id": "crm-7",
            },
            "webshop_id": "shop-us",
        },
    )

    assert updated.info.first_name == "Jane"
    assert updated.info.email == "Jane@example.com"
    assert (updated.info.last_name, updated.info.mobile, updated.info.country) == (
        "Roe",
        "+420777000111",
        "CZ",
    )
    assert updated.webshop_id == "shop-us"
    [event] = await events(db, "customer.updated.v1")
    assert event["webshop_id"] == "shop-us"
    assert event["info"]["mapping_id"] == "crm-7"
    assert event["changed_fields"] == [
        "info.city",
        "info.comments",
        "info.country",
        "info.last_name",
        "info.mapping_id",
        "info.mobile",
        "info.state",
        "info.street",
        "info.title",
        "info.zip",
        "webshop_id",
    ]
    customer, _ = await rows_of(db, customer_id)
    assert (customer.search_name, customer.search_full_name) == ("roe jane", "jane roe")


async def test_an_edit_that_changes_nothing_emits_nothing(db: Database, outbox: Outbox) -> None:
    customer_id = await new_customer(db, outbox)

    await patch(db, outbox, customer_id, {"info": {"first_name": "Jane"}, "webshop_id": "shop-eu"})

    assert await events(db, "customer.updated.v1") == []


async def test_null_clears_an_optional_field_and_the_e_mail_search_copy(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await new_customer(db, outbox)

    updated = await patch(db, outbox, customer_id, {"info": {"email": None}})

    assert updated.info.email is None
    customer, _ = await rows_of(db, customer_id)
    assert customer.search_email is None
    [event] = await events(db, "customer.updated.v1")
    assert event["changed_fields"] == ["info.email"]


async def test_editing_an_unknown_customer_is_404(db: Database, outbox: Outbox) -> None:
    with pytest.raises(Problem) as problem:
        await patch(db, outbox, "nobody", {"info": {"city": "Brno"}})
    assert problem.value.status == 404


@pytest.mark.parametrize(
    ("info", "field"),
    [
        ({"mobile": "777 000 111"}, "mobile"),
        ({"phone": "+0123456789"}, "phone"),
        ({"phone": "+42077700011122233"}, "phone"),
        ({"country": "XX"}, "country"),
        ({"country": "CZE"}, "country"),
        ({"email": "not-an-address"}, "email"),
        ({"first_name": None}, "first_name"),
        ({"last_name": ""}, "last_name"),
        ({"nickname": "J"}, "nickname"),
    ],
)
def test_invalid_info_is_refused_naming_the_field(info: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as error:
        CustomerInfoPatch.model_validate(info)
    assert [e["loc"] for e in error.value.errors()] == [(field,)]


def test_phones_are_stored_in_compact_e164() -> None:
    patch = CustomerInfoPatch(phone="00420 (777) 000-111", mobile="+1 202 555 0100")
    assert (patch.phone, patch.mobile) == ("+420777000111", "+12025550100")


# --- status ----------------------------------------------------------------------------------


def activated(
    customer_id: str,
    *,
    action: SubscriptionAction = "opened",
    state: SubscriptionStatus = "active",
    subscription_id: str = "sub-1",
    expires_at: datetime | None = T0 + timedelta(days=30),
) -> SubscriptionActivatedV1:
    return SubscriptionActivatedV1(
        customer_id=customer_id,
        subscription_id=subscription_id,
        order_id=None,
        action=action,
        webshop_id="shop-eu",
        product_id="basic",
        plan_id="basic-1m",
        extra_product_ids=[],
        status=state,
        starts_at=T0,
        expires_at=expires_at,
        max_devices=2,
    )


async def follow(db: Database, outbox: Outbox, event: object) -> Customer:
    async with db.transaction() as session:
        if isinstance(event, SubscriptionActivatedV1):
            await service.handle_subscription_activated(session, outbox, event)
            customer_id = event.customer_id
        elif isinstance(event, SubscriptionCancelledV1):
            await status.handle_cancelled(session, event)
            customer_id = event.customer_id
        else:
            assert isinstance(event, SubscriptionExpiredV1)
            await status.handle_expired(session, event)
            customer_id = event.customer_id
    customer, _ = await rows_of(db, customer_id)
    return customer


@pytest.mark.parametrize(
    ("action", "state", "expected"),
    [
        ("opened", "pending", "pending"),
        ("opened", "trial", "trial"),
        ("started", "active", "active"),
        ("renewed", "active", "active"),
        ("changed", "trial", "trial"),
        ("change_scheduled", "active", "active"),
        ("extended", "active", "active"),
        ("extra_added", "active", "active"),
        ("extra_removed", "active", "active"),
        ("refunded", "active", "active"),
        ("cancel_scheduled", "active", "active"),
    ],
)
async def test_every_activation_sets_the_status_from_the_subscription(
    db: Database,
    outbox: Outbox,
    action: SubscriptionAction,
    state: SubscriptionStatus,
    expected: str,
) -> None:
    customer_id = await new_customer(db, outbox)

    customer = await follow(db, outbox, activated(customer_id, action=action, state=state))

    assert (customer.status, customer.status_rank) == (expected, status.STATUS_RANK[expected])


async def test_cancel_and_expiry_make_the_customer_expired_and_a_renewal_active_again(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await new_customer(db, outbox)
    await follow(db, outbox, activated(customer_id))

    cancelled = await follow(
        db,
        outbox,
        SubscriptionCancelledV1(
            customer_id=customer_id,
            subscription_id="sub-1",
            product_id="basic",
            cancelled_at=T0 + timedelta(days=3),
        ),
    )
    assert (cancelled.status, cancelled.expires_at) == ("expired", T0 + timedelta(days=3))

    renewed = await follow(db, outbox, activated(customer_id, action="renewed"))
    assert renewed.status == "active"

    expired = await follow(
        db,
        outbox,
        SubscriptionExpiredV1(
            customer_id=customer_id,
            subscription_id="sub-1",
            product_id="basic",
            expired_at=T0 + timedelta(days=30),
        ),
    )
    assert expired.status == "expired"


async def test_the_end_of_a_subscription_the_customer_left_changes_nothing(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await new_customer(db, outbox)
    await follow(db, outbox, activated(customer_id, subscription_id="sub-2"))

    customer = await follow(
        db,
        outbox,
        SubscriptionExpiredV1(
            customer_id=customer_id,
            subscription_id="sub-1",
            product_id="basic",
            expired_at=T0,
        ),
    )

    assert (customer.status, customer.subscription_id) == ("active", "sub-2")


async def test_a_month_end_batch_of_expiries_is_one_statement_with_each_rule_kept(
    db: Database, outbox: Outbox
) -> None:
    ended, moved_on, disabled = [await new_customer(db, outbox) for _ in range(3)]
    for customer_id in (ended, disabled):
        await follow(db, outbox, activated(customer_id))
    await follow(db, outbox, activated(moved_on, subscription_id="sub-2"))
    await change_account(db, outbox, disabled, {"disabled": True})
    batch = [
        SubscriptionExpiredV1(
            customer_id=c, subscription_id="sub-1", product_id="basic", expired_at=T0
        )
        for c in (ended, moved_on, disabled)
    ]
    updates: list[tuple[str, bool]] = []

    def record(
        _c: object, _cursor: object, statement: str, _p: object, _x: object, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            updates.append((statement, many))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with db.transaction() as session:
            await status.handle_expired_batch(session, batch)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)

    # One statement run once for the whole batch (not an executemany, a run per event).
    assert [many for _, many in updates] == [False]
    states = {c: (await rows_of(db, c))[0] for c in (ended, moved_on, disabled)}
    assert (states[ended].status, states[ended].expires_at) == ("expired", T0)
    assert (states[moved_on].status, states[moved_on].subscription_id) == ("active", "sub-2")
    assert (states[disabled].status, states[disabled].subscription_status) == (
        "disabled",
        "expired",
    )
    assert states[ended].status_rank == status.STATUS_RANK["expired"]


async def test_a_customer_named_twice_in_an_expiry_batch_follows_the_events_in_order(
    db: Database, outbox: Outbox
) -> None:
    """The second event of one customer is applied after the first, as if one by one: the end
    of sub-1 (current) ends it, then the end of sub-2 (not theirs) changes nothing; another
    customer's event and one of a customer this service never saw ride along."""
    twice, other = [await new_customer(db, outbox) for _ in range(2)]
    for customer_id in (twice, other):
        await follow(db, outbox, activated(customer_id))
    ends = [
        (twice, "sub-1", T0),
        (other, "sub-1", T0 + timedelta(hours=1)),
        (twice, "sub-2", T0 + timedelta(hours=2)),
        ("never-seen", "sub-9", T0),
    ]
    batch = [
        SubscriptionExpiredV1(customer_id=c, subscription_id=s, product_id="basic", expired_at=at)
        for c, s, at in ends
    ]
    async with db.transaction() as session:
        await status.handle_expired_batch(session, batch)

    first, _ = await rows_of(db, twice)
    assert (first.status, first.subscription_id, first.expires_at) == ("expired", "sub-1", T0)
    second, _ = await rows_of(db, other)
    assert (second.status, second.expires_at) == ("expired", T0 + timedelta(hours=1))


async def test_a_disabled_customer_stays_disabled_whatever_billing_says(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await new_customer(db, outbox)
    await change_account(db, outbox, customer_id, {"disabled": True})

    customer = await follow(db, outbox, activated(customer_id, action="renewed"))
    assert customer.status == "disabled"

    await change_account(db, outbox, customer_id, {"disabled": False})
    customer, _ = await rows_of(db, customer_id)
    assert (customer.status, customer.status_rank) == ("active", status.STATUS_RANK["active"])


# --- account ---------------------------------------------------------------------------------


async def change_account(
    db: Database, outbox: Outbox, customer_id: str, body: dict[str, Any]
) -> Any:
    async with db.transaction() as session:
        return await account.update_account(
            session, outbox, customer_id, AccountUpdate.model_validate(body)
        )


async def test_disable_and_enable_set_the_status_and_emit_account_updated(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await new_customer(db, outbox, login="jane.doe")

    disabled = await change_account(db, outbox, customer_id, {"disabled": True})
    again = await change_account(db, outbox, customer_id, {"disabled": True})
    enabled = await change_account(db, outbox, customer_id, {"disabled": False})

    assert (disabled.disabled, again.disabled, enabled.disabled) == (True, True, False)
    sent = await events(db, "account.updated.v1")
    assert [(e["login"], e["disabled"]) for e in sent] == [
        ("jane.doe", True),
        ("jane.doe", False),
    ]
    customer, _ = await rows_of(db, customer_id)
    assert customer.status == "pending"


async def test_login_change_updates_the_search_copy_and_emits_account_updated(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await new_customer(db, outbox)

    changed = await change_account(db, outbox, customer_id, {"login": "Jane.Doe+tv"})

    assert (changed.login, changed.login_generated) == ("Jane.Doe+tv", False)
    [event] = await events(db, "account.updated.v1")
    assert (event["login"], event["disabled"]) == ("Jane.Doe+tv", False)
    async with db.sessions() as session:
        page = await listing.list_customers(session, listing.ListFilters(q="jane.doe+"))
    assert [item.id for item in page.items] == [customer_id]


async def test_a_login_taken_in_another_case_is_409_naming_the_field(
    db: Database, outbox: Outbox
) -> None:
    await new_customer(db, outbox, first="Ann", login="ann.tv")
    customer_id = await new_customer(db, outbox)

    with pytest.raises(Problem) as problem:
        await change_account(db, outbox, customer_id, {"login": "ANN.TV"})

    assert problem.value.status == 409
    assert problem.value.extra == {"errors": [{"field": "login", "message": "already in use"}]}
    assert await events(db, "account.updated.v1") == []


async def test_a_customer_may_change_the_case_of_their_own_login(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await new_customer(db, outbox, login="ann.tv")

    changed = await change_account(db, outbox, customer_id, {"login": "Ann.TV"})

    assert changed.login == "Ann.TV"


async def test_the_database_refuses_logins_that_differ_only_in_case(
    db: Database, outbox: Outbox
) -> None:
    first = await new_customer(db, outbox, login="bob.tv")
    second = await new_customer(db, outbox, first="Rob", login="rob.tv")
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            row = await session.get(Account, second)
            assert row is not None and first != second
            row.login = "BOB.tv"


@pytest.mark.parametrize(
    "login", ["ab", "has space", "a" * 65, "semi;colon", "jane*", "ünï", "tab\there"]
)
def test_custom_login_rules(login: str) -> None:
    with pytest.raises(ValidationError) as error:
        AccountUpdate(login=login)
    assert [e["loc"] for e in error.value.errors()] == [("login",)]


async def test_password_reset_returns_a_new_password_once_and_stores_its_hash(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await new_customer(db, outbox, login="jane.doe")

    async with db.transaction() as session:
        reset = await account.reset_password(session, customer_id)

    assert reset.password is not None and reset.password.isdigit()
    _, row = await rows_of(db, customer_id)
    assert reset.password not in row.password_hash
    assert credentials.verify_password(row.password_hash, reset.password)
    assert not credentials.verify_password(row.password_hash, "secret-1")
    assert await events(db, "account.updated.v1") == []


async def test_a_device_connection_sets_the_last_login_and_never_moves_it_back(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await new_customer(db, outbox)

    def connected(at: datetime) -> DeviceConnectedV1:
        return DeviceConnectedV1(
            customer_id=customer_id, device_id="stb-1", kind="stb", connected_at=at
        )

    for at in (T0, T0 + timedelta(hours=2), T0 + timedelta(hours=1)):
        async with db.transaction() as session:
            await account.handle_device_connected(session, connected(at))
    async with db.transaction() as session:
        await account.handle_device_connected(
            session,
            DeviceConnectedV1(customer_id="nobody", device_id="x", kind="stb", connected_at=T0),
        )

    async with db.sessions() as session:
        shown = await account.get_account(session, customer_id)
    assert shown.last_login_at == T0 + timedelta(hours=2)


async def test_stats_count_every_status_and_the_new_customers_of_each_day(
    db: Database, outbox: Outbox
) -> None:
    active = await new_customer(db, outbox)
    await new_customer(db, outbox, first="Ann")
    await follow(db, outbox, activated(active))

    async with db.sessions() as session:
        figures = await stats.customer_stats(session)

    assert figures.by_status == {
        "pending": 1,
        "trial": 0,
        "active": 1,
        "expired": 0,
        "disabled": 0,
    }
    assert len(figures.new_per_day) == stats.DAYS
    assert figures.new_per_day[-1].day == datetime.now(UTC).date()
    assert figures.new_per_day[-1].count == 2
    assert sum(day.count for day in figures.new_per_day) == 2


def test_adding_a_customer_checks_phones_and_country_naming_the_field() -> None:
    sale: dict[str, Any] = {"webshop_id": "shop-eu", "product_id": "basic", "plan_id": "basic-1m"}
    plain = CustomerInfo(
        first_name="Ann", last_name="Lee", phone="00420 777 000 111", mobile="+1 202 555 0100"
    )
    created = CustomerCreate.model_validate({**sale, "info": plain})
    assert (created.info.phone, created.info.mobile) == ("+420777000111", "+12025550100")
    with pytest.raises(ValidationError) as error:
        CustomerCreate.model_validate(
            {**sale, "info": {"first_name": "A", "last_name": "B", "mobile": "12", "country": "X1"}}
        )
    assert sorted(e["loc"] for e in error.value.errors()) == [
        ("info", "country"),
        ("info", "mobile"),
    ]
