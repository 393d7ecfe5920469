"""The list route's JSON written from rows (list_json.py) is byte for byte the JSON of the page
as models (`CustomerPage.model_dump_json()`), the shape its response_model documents."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from services.customers import listing
from services.customers.app import SPEC
from services.customers.listing import ListFilters
from services.customers.models import Account, Customer
from services.customers.name_keys import name_keys
from services.customers.schemas import SortKey
from services.customers.status import STATUS_RANK
from services.runtime.db import Database
from services.runtime.tests._helpers import BACKENDS, migrated_database

# Microseconds, and none: both are written the way pydantic writes them.
T0 = datetime(2025, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)
T1 = datetime(2025, 3, 2, 10, 30, tzinfo=UTC)


def _customer(n: int, **fields: object) -> Customer:
    first, last = str(fields.pop("first_name", f"First{n}")), str(fields.pop("last_name", "Last"))
    search_name, search_full_name = name_keys(first, last)
    status = str(fields.pop("status", "active"))
    values: dict[str, object] = {
        "id": str(uuid.UUID(int=n)),
        "status": status,
        "source": "manual",
        "webshop_id": "shop-eu",
        "first_name": first,
        "last_name": last,
        "status_rank": STATUS_RANK[status],
        "search_name": search_name,
        "search_full_name": search_full_name,
        "search_login": f"login{n}",
        "created_at": T0 + timedelta(minutes=n),
        "updated_at": T1,
        "extra_product_ids": [],
    }
    values.update(fields)
    return Customer(**values)


def customers() -> list[Customer]:
    """Fresh entities for each database."""
    return [
        # Every field set, text beyond ASCII, quotes and a backslash to escape.
        _customer(
            1,
            first_name="Šárka",
            last_name='Novotná "Š" \\ 日本',
            title="Ing.",
            email="sarka@example.cz",
            phone="+420777000111",
            mobile="+420777000222",
            street="Dlouhá 1\nbyt 2",
            zip="110 00",
            city="Praha",
            state="CZ-10",
            country="CZ",
            comments="likes <html> & emoji 🎬",
            mapping_id="crm-1",
            source="webshop",
            product_id="basic",
            plan_id="monthly",
            extra_product_ids=["hbo", "sport"],
            subscription_id=str(uuid.uuid4()),
            subscription_status="active",
            expires_at=T1 + timedelta(days=30, microseconds=7),
        ),
        # Nothing optional, no subscription.
        _customer(2, status="pending"),
        # Stored with spaces around (not through the API, which strips them): CustomerInfo strips
        # them when it is built, so the bytes must too.
        _customer(3, first_name="  Padded ", city=" Brno  ", status="expired", expires_at=T0),
        _customer(4, status="trial", extra_product_ids=None),
    ]


@pytest.fixture(scope="module", params=BACKENDS)
async def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    async with migrated_database(
        request,
        tmp_path_factory.mktemp("list_json"),
        name="customers_list_json",
        migrations_dir=SPEC.migrations_dir,
        metadata=SPEC.metadata,
    ) as database:
        async with database.transaction() as session:
            rows = customers()
            session.add_all(rows)
            await session.flush()
            for n, customer in enumerate(rows):
                session.add(
                    Account(
                        customer_id=customer.id,
                        login=f"Login{n}",
                        password_hash="not-a-real-hash",
                        created_at=customer.created_at,
                    )
                )
        yield database


@pytest.mark.parametrize("sort", ["-created_at", "name", "-expires_at", "status"])
@pytest.mark.parametrize("limit", [1, 3, 50])
@pytest.mark.parametrize(
    "filters",
    [ListFilters(), ListFilters(status_group="active"), ListFilters(q="nov")],
    ids=["all", "active", "searched"],
)
async def test_the_json_page_is_the_models_page_byte_for_byte(
    db: Database, sort: SortKey, limit: int, filters: ListFilters
) -> None:
    cursor: str | None = None
    pages = 0
    while True:
        async with db.sessions() as session:
            as_models = await listing.list_customers(
                session, filters, sort=sort, limit=limit, cursor=cursor
            )
            as_bytes = await listing.list_customers_json(
                session, filters, sort=sort, limit=limit, cursor=cursor
            )
        assert as_bytes == as_models.model_dump_json().encode()
        pages += 1
        cursor = as_models.next_cursor
        if cursor is None:
            break
    assert pages >= 1
