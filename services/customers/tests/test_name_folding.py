"""Names sort and are searched ignoring case and accents, on SQLite and PostgreSQL alike: the
folded keys (name_keys.py) written by the service, recomputed by the migration, matched by `q`."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select

from services.customers import listing as customers_list
from services.customers.app import SPEC
from services.customers.listing import ListFilters
from services.customers.models import Account, Customer
from services.customers.name_keys import KEY_LENGTH, fold, name_keys
from services.customers.schemas import SortKey
from services.customers.service import set_names
from services.customers.status import STATUS_RANK
from services.runtime import migrations
from services.runtime.db import Database
from services.runtime.tests._helpers import BACKENDS, migrated_database

T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "folded"),
    [
        ("Émile", "emile"),
        ("ÉMILE", "emile"),
        ("Öztürk", "ozturk"),
        ("Łukasz", "lukasz"),
        ("ŁUKASZ", "lukasz"),
        ("Dvořák", "dvorak"),
        ("Nguyễn", "nguyen"),
        ("Ørsted", "orsted"),
        ("Đorđe", "dorde"),
        ("Straße", "strasse"),
        ("Ærø", "aero"),
        ("Œuvre", "oeuvre"),
        ("I\u011fd\u0131r", "igdir"),  # a Turkish town, with a dotless i
        ("İlker", "ilker"),
        ("Þór", "thor"),
        ("Ħal", "hal"),
        ("ﬁona", "fiona"),  # a compatibility ligature
        ("smith", "smith"),
        ("Иван", "иван"),  # other scripts keep their letters, only case goes
        ("O'Brien-Smith", "o'brien-smith"),
    ],
)
def test_fold_drops_case_and_accents(name: str, folded: str) -> None:
    assert fold(name) == folded


def test_name_keys_are_last_first_and_first_last_cut_to_the_column() -> None:
    assert name_keys("Émile", "Zola") == ("zola emile", "emile zola")
    long_name, long_full = name_keys("ß" * 100, "ß" * 100)  # 200 letters fold to 400
    assert len(long_name) == len(long_full) == KEY_LENGTH


# (first, last, login): accented, plain and mixed-case names whose folded keys interleave.
PEOPLE = [
    ("Émile", "Zola", "emile"),
    ("Emma", "zeller", "emma"),
    ("emil", "Young", "emil"),
    ("Anna", "Öztürk", "ozturk"),
    ("Ahmet", "OZAL", "ozal"),
    ("Bora", "Ozturk", "ozturk2"),
    ("Łukasz", "Nowak", "lukasz"),
    ("Luka", "Modrić", "luka"),
    ("LUKAS", "Ľubica", "lukas"),
    ("Zoë", "Åberg", "aberg"),
    ("Adam", "Abel", "abel"),
    ("Søren", "Ærøe", "aeroe"),
    ("Ida", "Ærøe", "aeroe2"),  # the same last name: first name then id decide
]


@pytest.fixture(scope="module", params=BACKENDS)
async def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    async with migrated_database(
        request,
        tmp_path_factory.mktemp("folding"),
        name="customers_folding",
        migrations_dir=SPEC.migrations_dir,
        metadata=SPEC.metadata,
    ) as database:
        async with database.transaction() as session:
            customers = []
            for n, (first, last, login) in enumerate(PEOPLE):
                customer = Customer(
                    id=str(uuid.uuid4()),
                    status="active",
                    status_rank=STATUS_RANK["active"],
                    source="manual",
                    webshop_id="shop-eu",
                    search_login=login,
                    created_at=T0 + timedelta(minutes=n),
                    updated_at=T0 + timedelta(minutes=n),
                    extra_product_ids=[],
                )
                set_names(customer, first, last)  # what every write of the service calls
                session.add(customer)
                customers.append((customer, login))
            await session.flush()
            for customer, login in customers:
                session.add(
                    Account(
                        customer_id=customer.id,
                        login=login,
                        password_hash="not-a-real-hash",
                        created_at=customer.created_at,
                    )
                )
        yield database


async def _found(db: Database, q: str) -> set[str]:
    async with db.sessions() as session:
        page = await customers_list.list_customers(session, ListFilters(q=q), limit=100)
    return {item.login for item in page.items}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("emile", {"emile"}),  # first name, no accent typed
        ("Émile", {"emile"}),
        ("EMI", {"emile", "emil"}),  # both, with and without the accent
        ("lukasz", {"lukasz"}),
        ("ŁUK", {"lukasz", "luka", "lukas"}),
        ("ozturk", {"ozturk", "ozturk2"}),
        ("ÖZTÜRK anna", {"ozturk"}),  # "last first"
        ("anna öztürk", {"ozturk"}),  # "first last"
        ("lubica", {"lukas"}),
        ("aeroe", {"aeroe", "aeroe2"}),
        ("ærøe s", {"aeroe"}),
        ("zola é", {"emile"}),
        ("modric", {"luka"}),
        ("zoe", {"aberg"}),
        ("emilé", {"emile"}),  # an accent typed in the wrong place is ignored too; "emil " is not
        ("emil y", {"emil"}),
    ],
)
async def test_search_ignores_case_and_accents(db: Database, q: str, expected: set[str]) -> None:
    assert await _found(db, q) == expected


def _by_folded_name() -> list[str]:
    return [login for *_, login in sorted(PEOPLE, key=lambda p: name_keys(p[0], p[1])[0])]


async def _walk(db: Database, sort: SortKey, limit: int, q: str | None = None) -> list[str]:
    seen: list[str] = []
    cursor = None
    async with db.sessions() as session:
        for _ in range(len(PEOPLE) + 1):
            page = await customers_list.list_customers(
                session,
                ListFilters(q=q),
                sort=sort,
                limit=limit,
                cursor=cursor,
            )
            seen += [item.login for item in page.items]
            cursor = page.next_cursor
            if cursor is None:
                return seen
    raise AssertionError("the pages did not end")


async def test_name_sort_puts_accented_names_among_the_others(db: Database) -> None:
    order = await _walk(db, "name", 100)
    assert order == _by_folded_name()
    # Spelled out: Åberg with the A's, Ærøe as "aeroe", Öztürk between Ozal and Ozturk (Anna
    # before Bora), Ľubica with the L's, Zola after zeller; nothing after z.
    assert order[:4] == ["abel", "aberg", "aeroe2", "aeroe"]
    assert order.index("ozal") < order.index("ozturk") < order.index("ozturk2")
    assert order[-2:] == ["emma", "emile"]  # "zeller emma" < "zola emile"


@pytest.mark.parametrize("sort", ["name", "-name"])
@pytest.mark.parametrize("limit", [1, 2, 5])
async def test_keyset_pages_across_accented_names_return_each_once(
    db: Database, sort: SortKey, limit: int
) -> None:
    expected = _by_folded_name()
    if sort == "-name":
        expected.reverse()  # the folded keys are all different, so reversing is the -name order
    assert await _walk(db, sort, limit) == expected


async def test_paged_search_across_accented_names(db: Database) -> None:
    # "ozturk anna", "ozturk bora"; "luka modric" < "lukas lubica" < "lukasz nowak" (full names).
    assert await _walk(db, "name", 1, q="ozt") == ["ozturk", "ozturk2"]
    assert await _walk(db, "name", 1, q="łuk") == ["lukas", "luka", "lukasz"]


BEFORE_FOLDING = "9c940c01ff8a"


@pytest.fixture(params=BACKENDS)
async def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with migrated_database(
        request,
        tmp_path,
        name="customers_fold_migration",
        migrations_dir=SPEC.migrations_dir,
        metadata=SPEC.metadata,
    ) as database:
        yield database


async def _keys(db: Database) -> dict[str, tuple[str, str]]:
    async with db.sessions() as session:
        rows = (await session.execute(select(Customer))).scalars().all()
        return {c.first_name: (c.search_name, c.search_full_name) for c in rows}


async def test_migration_recomputes_the_keys_of_existing_rows(fresh: Database) -> None:
    config = migrations.alembic_config(SPEC.migrations_dir, fresh.url)
    await asyncio.to_thread(command.downgrade, config, BEFORE_FOLDING)
    try:
        names = [("Émile", "Zola"), ("Łukasz", "Nowak"), ("adam", "Abel")]
        async with fresh.transaction() as session:
            for n, (first, last) in enumerate(names):
                session.add(
                    Customer(
                        id=str(uuid.uuid4()),
                        status="pending",
                        status_rank=STATUS_RANK["pending"],
                        source="manual",
                        webshop_id="shop-eu",
                        first_name=first,
                        last_name=last,
                        # as the previous revision's service wrote them
                        search_name=f"{last} {first}".lower(),
                        search_full_name=f"{first} {last}".lower(),
                        search_login=f"login{n}",
                        created_at=T0,
                        updated_at=T0,
                        extra_product_ids=[],
                    )
                )
        assert (await _keys(fresh))["Émile"] == ("zola émile", "émile zola")

        await asyncio.to_thread(command.upgrade, config, "head")
        assert await _keys(fresh) == {first: name_keys(first, last) for first, last in names}

        await asyncio.to_thread(command.downgrade, config, BEFORE_FOLDING)
        assert (await _keys(fresh))["Łukasz"] == ("nowak łukasz", "łukasz nowak")
    finally:
        await asyncio.to_thread(command.upgrade, config, "head")
    assert (await _keys(fresh))["Łukasz"] == ("nowak lukasz", "lukasz nowak")
