"""The customers list: filters, case-insensitive prefix search, and keyset pages that return
every row exactly once in the chosen order."""

import base64
import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from services.customers import listing as customers_list
from services.customers.app import SPEC
from services.customers.listing import ListFilters
from services.customers.models import Account, Customer
from services.customers.name_keys import name_keys
from services.customers.schemas import ACTIVE_STATUSES, INACTIVE_STATUSES, SortKey
from services.customers.status import STATUS_RANK
from services.runtime.db import Database
from services.runtime.problems import Problem
from services.runtime.tests._helpers import BACKENDS, migrated_database

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    email: str | None
    login: str
    status: str
    source: str
    minutes: int  # created at T0 + minutes; equal values make ties the id must break
    expires_in_days: int | None = None
    phone: str | None = None


PEOPLE = [
    Person("John", "Smith", "john.smith@example.com", "jsmith", "active", "manual", 0, 30),
    Person("Jane", "Smith", "jane@example.com", "4821337701", "trial", "webshop", 1, 7),
    Person("Anna", "Smithers", "anna@example.cz", "anna", "expired", "webshop", 2, -3),
    Person("Bob", "Brown", "BOB@Example.COM", "bobby", "pending", "manual", 2),
    Person("Zoe", "Adams", None, "zoe_a", "disabled", "manual", 2, 30),
    Person("Carl", "Smith", "carl@example.com", "Carl.S", "active", "manual", 4, 365),
    Person("John", "Smith", "john2@example.com", "jsmith2", "pending", "webshop", 5),
    Person("Šárka", "Novotná", "sarka@example.cz", "sarka", "active", "webshop", 6, 30, "+420777"),
    Person("Petr", "Dvořák", "petr@example.cz", "petr", "trial", "manual", 6, 7, "+421900"),
]


@dataclass(frozen=True)
class Listing:
    db: Database
    people: dict[str, Customer]  # by login


@pytest.fixture(scope="module", params=BACKENDS)
async def listing(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Listing]:
    """PEOPLE in a database of their own, shared by this module's tests, which only read."""
    async with migrated_database(
        request,
        tmp_path_factory.mktemp("listing"),
        name="customers_listing",
        migrations_dir=SPEC.migrations_dir,
        metadata=SPEC.metadata,
    ) as db:
        people = {}
        async with db.transaction() as session:
            for p in PEOPLE:
                created_at = T0 + timedelta(minutes=p.minutes)
                expires_at = (
                    None if p.expires_in_days is None else T0 + timedelta(days=p.expires_in_days)
                )
                search_name, search_full_name = name_keys(p.first, p.last)
                customer = Customer(
                    id=str(uuid.uuid4()),
                    status=p.status,
                    source=p.source,
                    webshop_id="shop-eu",
                    first_name=p.first,
                    last_name=p.last,
                    email=p.email,
                    phone=p.phone,
                    status_rank=STATUS_RANK[p.status],
                    search_name=search_name,
                    search_full_name=search_full_name,
                    search_login=p.login.lower(),
                    search_email=p.email.lower() if p.email else None,
                    created_at=created_at,
                    updated_at=created_at,
                    extra_product_ids=[],
                    expires_at=expires_at,
                )
                session.add(customer)
                people[p.login] = customer
            await session.flush()  # no ORM relationship orders the accounts after them
            for login, customer in people.items():
                session.add(
                    Account(
                        customer_id=customer.id,
                        login=login,
                        password_hash="not-a-real-hash",
                        created_at=customer.created_at,
                    )
                )
        yield Listing(db, people)


async def logins(listing: Listing, filters: ListFilters) -> set[str]:
    async with listing.db.sessions() as session:
        page = await customers_list.list_customers(session, filters, limit=100)
    assert page.next_cursor is None
    assert page.total == len(page.items)
    return {item.login for item in page.items}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (ListFilters(status_group="active"), {"jsmith", "4821337701", "Carl.S", "sarka", "petr"}),
        (ListFilters(status_group="inactive"), {"anna", "bobby", "zoe_a", "jsmith2"}),
        (ListFilters(status=["pending", "disabled"]), {"bobby", "zoe_a", "jsmith2"}),
        (
            ListFilters(source="webshop"),
            {"4821337701", "anna", "jsmith2", "sarka"},
        ),
        (ListFilters(source="webshop", status_group="active"), {"4821337701", "sarka"}),
        (ListFilters(expires_before=T0), {"anna"}),
        (ListFilters(expires_after=T0 + timedelta(days=31)), {"Carl.S"}),
    ],
    ids=["active", "inactive", "statuses", "webshop", "webshop-active", "expired", "far"],
)
async def test_filters(listing: Listing, filters: ListFilters, expected: set[str]) -> None:
    assert await logins(listing, filters) == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("smi", {"jsmith", "4821337701", "anna", "Carl.S", "jsmith2"}),  # last names
        ("SMITHERS", {"anna"}),
        ("smith j", {"jsmith", "4821337701", "jsmith2"}),  # "last first"
        ("jan", {"4821337701"}),  # first name
        ("JOHN", {"jsmith", "jsmith2"}),
        ("bob@ex", {"bobby"}),  # e-mail, stored in capitals
        ("bob", {"bobby"}),  # name, e-mail and login at once: listed once
        ("jsm", {"jsmith", "jsmith2"}),  # login
        ("carl.", {"Carl.S"}),  # login, case-insensitive
        ("48213", {"4821337701"}),  # numeric login
        ("+420", {"sarka"}),  # phone
        ("  smithers  ", {"anna"}),
        ("mith", set()),  # a prefix, not a substring
        ("%", set()),  # LIKE wildcards are literal
        ("o'b", set()),  # the prefix is rendered into the SQL: quotes stay quoted
        ("\\", set()),
        ("_", set()),
        ("zoe_", {"zoe_a"}),
        ("novotná", {"sarka"}),
        ("dvořák", {"petr"}),
    ],
)
async def test_search_is_a_case_insensitive_prefix_of_name_email_phone_or_login(
    listing: Listing, q: str, expected: set[str]
) -> None:
    assert await logins(listing, ListFilters(q=q)) == expected


async def test_search_by_a_non_ascii_first_name_ignores_case(listing: Listing) -> None:
    assert await logins(listing, ListFilters(q="šár")) == {"sarka"}
    assert await logins(listing, ListFilters(q="ŠÁR")) == {"sarka"}


async def test_search_combines_with_filters(listing: Listing) -> None:
    found = await logins(listing, ListFilters(q="smith", status_group="active"))
    assert found == {"jsmith", "4821337701", "Carl.S"}


def _expected_order(people: dict[str, Customer], sort: SortKey) -> list[str]:
    far_future = datetime(9999, 1, 1, tzinfo=UTC)

    def key(customer: Customer) -> tuple[object, str]:
        field = sort.lstrip("-")
        if field == "name":
            return customer.search_name, customer.id
        if field == "expires_at":
            return customer.expires_at or far_future, customer.id
        if field == "status":
            return STATUS_RANK[customer.status], customer.id
        return customer.created_at, customer.id

    ordered = sorted(people.values(), key=key, reverse=sort.startswith("-"))
    return [customer.id for customer in ordered]


@pytest.mark.parametrize(
    "sort", ["name", "-created_at", "-name", "created_at", "status", "-status"]
)
@pytest.mark.parametrize("limit", [1, 3])
async def test_pages_return_every_row_once_in_order(
    listing: Listing, sort: SortKey, limit: int
) -> None:
    seen: list[str] = []
    cursor = None
    async with listing.db.sessions() as session:
        for _ in range(len(PEOPLE) + 1):
            page = await customers_list.list_customers(
                session, ListFilters(), sort=sort, limit=limit, cursor=cursor
            )
            assert page.total == len(PEOPLE)
            assert len(page.items) <= limit
            seen += [item.id for item in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert seen == _expected_order(listing.people, sort)


@pytest.mark.parametrize("sort", ["expires_at", "-expires_at"])
@pytest.mark.parametrize("limit", [1, 2, 4])
async def test_pages_by_expiry_put_customers_without_one_after_every_date(
    listing: Listing, sort: SortKey, limit: int
) -> None:
    seen: list[str] = []
    cursor = None
    async with listing.db.sessions() as session:
        for _ in range(len(PEOPLE) + 1):
            page = await customers_list.list_customers(
                session, ListFilters(), sort=sort, limit=limit, cursor=cursor
            )
            seen += [item.id for item in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert seen == _expected_order(listing.people, sort)


async def test_pages_of_a_filtered_list_count_the_filtered_total(listing: Listing) -> None:
    seen: list[str] = []
    cursor = None
    async with listing.db.sessions() as session:
        for _ in range(10):
            page = await customers_list.list_customers(
                session, ListFilters(status_group="inactive"), sort="name", limit=1, cursor=cursor
            )
            assert page.total == 4
            seen += [item.login for item in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
    # search_name order: "adams zoe", "brown bob", "smith john", "smithers anna"
    assert seen == ["zoe_a", "bobby", "jsmith2", "anna"]


async def test_a_page_is_read_as_rows_without_loading_entities(listing: Listing) -> None:
    # An entity load means the ORM built and tracked an object per row: the cost the list avoids.
    loaded: list[object] = []

    def count(target: object, _context: object) -> None:
        loaded.append(target)

    for entity in (Customer, Account):
        event.listen(entity, "load", count)
    try:
        async with listing.db.sessions() as session:
            cases: list[tuple[ListFilters, SortKey]] = [
                (ListFilters(), "name"),
                (ListFilters(q="smi"), "status"),
            ]
            for filters, sort in cases:
                page = await customers_list.list_customers(session, filters, sort=sort)
                assert page.items
    finally:
        for entity in (Customer, Account):
            event.remove(entity, "load", count)
    assert loaded == []


def _encode(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("cursor", "sort"),
    [
        ("not a cursor!", "name"),
        (_encode({"value": "x"}), "name"),
        (_encode(["smith john", 7]), "name"),
        (_encode(["smith john"]), "name"),
        (_encode(["yesterday", "some-id"]), "-created_at"),
        (customers_list.encode_cursor("-name", "smith john", "some-id"), "name"),
        (customers_list.encode_cursor("-created_at", datetime.now(UTC), "some-id"), "-name"),
        (base64.urlsafe_b64encode(b"\xff\xfe").decode(), "name"),
    ],
    ids=[
        "garbage",
        "object",
        "id-not-text",
        "short",
        "not-a-date",
        "not-utf8",
        "other-direction",
        "other-sort",
    ],
)
async def test_a_bad_cursor_is_a_422_naming_it(
    listing: Listing, cursor: str, sort: SortKey
) -> None:
    async with listing.db.sessions() as session:
        with pytest.raises(Problem) as problem:
            await customers_list.list_customers(session, ListFilters(), sort=sort, cursor=cursor)
    assert problem.value.status == 422
    assert problem.value.extra["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("john sm", {"jsmith", "jsmith2"}),
        ("JANE SMITH", {"4821337701"}),
        ("šárka nov", {"sarka"}),
        ("carl smithers", set()),
    ],
)
async def test_search_by_full_name_first_then_last(
    listing: Listing, q: str, expected: set[str]
) -> None:
    assert await logins(listing, ListFilters(q=q)) == expected


async def test_total_beyond_the_cap_is_marked_inexact_on_postgresql(listing: Listing) -> None:
    async with listing.db.sessions() as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        everyone = await customers_list.list_customers(session, ListFilters(), total_cap=3)
        inactive = await customers_list.list_customers(
            session, ListFilters(status_group="inactive"), total_cap=3
        )
        few = await customers_list.list_customers(
            session, ListFilters(status=["disabled"]), total_cap=3
        )
    assert (few.total, few.total_exact) == (1, True)
    if postgres:
        # Beyond the cap: the planner's estimate of the table (at least cap + 1) or cap + 1.
        assert everyone.total is not None and everyone.total >= 4
        assert not everyone.total_exact
        assert (inactive.total, inactive.total_exact) == (4, False)
    else:
        assert (everyone.total, everyone.total_exact) == (len(PEOPLE), True)
        assert (inactive.total, inactive.total_exact) == (4, True)


@pytest.mark.parametrize("sort", ["name", "-expires_at", "status"])
async def test_csv_export_streams_the_filtered_list_in_list_order(
    listing: Listing, sort: SortKey
) -> None:
    filters = ListFilters(status=["active", "trial", "expired", "pending"])
    chunks = [
        chunk async for chunk in customers_list.stream_csv(listing.db, filters, sort=sort, batch=2)
    ]
    async with listing.db.sessions() as session:
        page = await customers_list.list_customers(session, filters, sort=sort, limit=100)

    assert len(chunks) > 3  # the header, then one chunk per batch: nothing held back
    header, *rows = list(csv.reader(io.StringIO("".join(chunks))))
    assert header == list(customers_list.CSV_COLUMNS)
    assert [row[0] for row in rows] == [item.id for item in page.items]
    by_login = {row[header.index("login")]: row for row in rows}
    sarka = by_login["sarka"]
    assert sarka[header.index("last_name")] == "Novotná"
    assert sarka[header.index("phone")] == "+420777"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+420777000111", "+420777000111"),
        ("+1 202 555", "+1 202 555"),
        ("-cmd|x", "'-cmd|x"),
        ("plain", "plain"),
        (None, ""),
    ],
)
def test_csv_cells_cannot_start_a_formula(value: str | None, cell: str) -> None:
    assert customers_list.csv_cell(value) == cell


@pytest.mark.parametrize("group", ["active", "inactive"])
@pytest.mark.parametrize("sort", ["expires_at", "-expires_at", "name", "-created_at", "-status"])
@pytest.mark.parametrize("limit", [1, 2])
async def test_a_status_group_is_read_status_by_status_and_merged_in_order(
    listing: Listing, group: str, sort: SortKey, limit: int
) -> None:
    filters = ListFilters(status_group=group)
    assert customers_list.split_statuses(filters) is not None
    wanted = ACTIVE_STATUSES if group == "active" else INACTIVE_STATUSES
    in_group = {k: c for k, c in listing.people.items() if c.status in wanted}
    seen: list[str] = []
    cursor = None
    async with listing.db.sessions() as session:
        for _ in range(len(PEOPLE) + 1):
            page = await customers_list.list_customers(
                session, filters, sort=sort, limit=limit, cursor=cursor
            )
            seen += [item.id for item in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert seen == _expected_order(in_group, sort)


def test_only_a_partial_set_of_statuses_is_split() -> None:
    assert customers_list.split_statuses(ListFilters()) is None
    assert customers_list.split_statuses(ListFilters(status=["expired"])) is None
    assert customers_list.split_statuses(
        ListFilters(status=["expired", "trial", "active"], status_group="active")
    ) == ["trial", "active"]
    assert (
        customers_list.split_statuses(ListFilters(status=["expired"], status_group="active"))
        is None
    )


async def test_a_page_on_postgresql_is_read_without_a_transaction(listing: Listing) -> None:
    # Each statement has its own snapshot under READ COMMITTED anyway: a BEGIN and a ROLLBACK
    # around them were two round trips per page for nothing.
    async with listing.db.sessions() as session:
        page = await customers_list.list_customers(session, ListFilters(q="smi"), sort="name")
        assert page.items
        connection = await session.connection()
        driver: Any = (await connection.get_raw_connection()).driver_connection
        if session.get_bind().dialect.name == "postgresql":
            assert not driver.is_in_transaction()
    # A session already writing keeps its transaction for the page.
    async with listing.db.transaction() as session:
        await session.execute(text("SELECT 1"))
        await customers_list.list_customers(session, ListFilters(), sort="name")
        connection = await session.connection()
        assert connection.in_transaction()
        assert connection.sync_connection is not None
        options = connection.sync_connection.get_execution_options()
        assert "isolation_level" not in options


async def test_page_statements_are_built_once_per_shape_with_the_values_as_parameters(
    listing: Listing,
) -> None:
    customers_list._page_statement.cache_clear()
    async with listing.db.sessions() as session:
        for q in ("smi", "jan", "bob"):
            for webshop in ("shop-eu", "shop-cz"):
                await customers_list.list_customers(
                    session, ListFilters(q=q, webshop_id=webshop, status_group="active")
                )
    # One statement per search alternative (five), for both active statuses and every value:
    # 60 reads of a range, 5 statements built.
    info = customers_list._page_statement.cache_info()
    assert (info.currsize, info.misses, info.hits) == (5, 5, 55)
    # The values are the request's, not the first request's baked in.
    assert await logins(listing, ListFilters(q="smi", webshop_id="shop-eu")) == {
        "jsmith",
        "4821337701",
        "anna",
        "Carl.S",
        "jsmith2",
    }
    assert await logins(listing, ListFilters(q="smi", webshop_id="shop-cz")) == set()
