"""The customers list: filters, prefix search ignoring case (and accents in names), keyset pages
in a chosen order, a total that stays cheap at a million rows, and the same rows streamed as CSV.

Every order ends with the id, so a page boundary is one (value, id) pair and the next page is a
row-value comparison the database answers from an index range, however deep the page.
"""

import csv
import functools
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast, get_args

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    String,
    bindparam,
    func,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.customers.list_json import page_json
from services.customers.models import Account, Customer
from services.customers.name_keys import fold
from services.customers.schemas import ACTIVE_STATUSES, INACTIVE_STATUSES, CustomerPage, SortKey
from services.customers.service import to_public
from services.customers.status import STATUS_RANK
from services.runtime.db import Database
from services.runtime.paging import Keyset, SortInt

# Up to this many matches `total` is exact; beyond, PostgreSQL answers with the planner's row
# count for the whole table (unfiltered) or TOTAL_CAP + 1 meaning "more than TOTAL_CAP".
TOTAL_CAP = 1000
CSV_BATCH = 1000
# Statements kept per shape (filters present, order, segment, ...): a few dozen in use.
STATEMENTS_KEPT = 1024

# A page is read as plain rows of these columns, never as ORM entities: loading 50 customers and
# their accounts into the session (identity map, change tracking) cost more than the SQL did.
# A row answers to the same attribute names as the entities, so `to_public` reads either.
LIST_COLUMNS = (*Customer.__table__.columns, Account.login)
ListRow = Row[Any]


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


def _like_prefix(q: str) -> str:
    return _escape_like(q.strip().lower()) + "%"


def _name_prefix(q: str) -> str:
    # The name keys are folded (no case, no accents: name_keys.py), so `q` is folded the same
    # way: "emile" and "ÉMI" both find "Émile", "lukasz" finds "Łukasz".
    return _escape_like(fold(q.strip())) + "%"


# Each filter as a clause over named parameters. A page's statements are built once per shape
# (which filters, which order, which segment) and kept (see _page_statement): building and
# cache-keying a select per request cost the customers service a third of its CPU per page
# (py-spy). The SQL is the same as a statement built with the values in it.
_FILTERS: dict[str, ColumnElement[bool]] = {
    "status": Customer.status.in_(bindparam("status", expanding=True)),
    "group_active": Customer.status.in_(ACTIVE_STATUSES),
    "group_inactive": Customer.status.in_(INACTIVE_STATUSES),
    "source": Customer.source == bindparam("source"),
    "webshop_id": Customer.webshop_id == bindparam("webshop_id"),
    "product_id": Customer.product_id == bindparam("product_id"),
    "expires_before": Customer.expires_at < bindparam("expires_before"),
    "expires_after": Customer.expires_at > bindparam("expires_after"),
}


def _starts_with(column: Any, parameter: str) -> ColumnElement[bool]:
    # The pattern is rendered into the statement (quoted by SQLAlchemy), not bound: PostgreSQL
    # turns `LIKE 'abc%'` into an index range only when it sees the prefix, and a prepared
    # statement reused with a parameter falls to a generic plan after five runs: a sequential
    # scan of a million rows.
    return cast(
        ColumnElement[bool],
        column.like(bindparam(parameter, type_=String, literal_execute=True), escape="\\"),
    )


# The prefix tests `q` stands for, any of which selects a customer. All on the customer row,
# each column with its own index. For the total they are one OR (PostgreSQL: a BitmapOr of five
# index ranges). For a page each is read on its own, in list order, and the pages merged (see
# page_rows): as one OR sorted by name, the planner walks the name index from "a" filtering, and
# for "smi" that is three quarters of a million rows. Phones are stored as typed (E.164 from
# the API), so they are matched as given.
_SEARCH = (
    _starts_with(Customer.search_name, "q_name"),
    _starts_with(Customer.search_full_name, "q_name"),
    _starts_with(Customer.search_email, "q_text"),
    _starts_with(Customer.search_login, "q_text"),
    _starts_with(Customer.phone, "q_phone"),
)


@dataclass(frozen=True)
class Criteria:
    """What a list filter selects: the names of its clauses (the statements' shape), whether
    it searches, and the parameters' values."""

    names: tuple[str, ...]
    search: bool
    params: dict[str, Any]


def criteria(f: ListFilters) -> Criteria:
    names: list[str] = []
    params: dict[str, Any] = {}
    if f.status:
        names.append("status")
        params["status"] = list(f.status)
    if f.status_group in ("active", "inactive"):
        names.append(f"group_{f.status_group}")
    for name in ("source", "webshop_id", "product_id", "expires_before", "expires_after"):
        value = getattr(f, name)
        if value:
            names.append(name)
            params[name] = value
    q = (f.q or "").strip()
    if q:
        params["q_name"] = _name_prefix(q)
        params["q_text"] = _like_prefix(q)
        params["q_phone"] = _escape_like(q) + "%"
    return Criteria(tuple(names), bool(q), params)


def _clauses(names: tuple[str, ...]) -> list[ColumnElement[bool]]:
    return [_FILTERS[name] for name in names]


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_SORT_COLUMNS: dict[str, Any] = {
    "created_at": Customer.created_at,
    "name": Customer.search_name,
    "expires_at": Customer.expires_at,
    "status": Customer.status_rank,
}


_SORT_ATTRIBUTES = {
    "created_at": "created_at",
    "name": "search_name",
    "expires_at": "expires_at",
    "status": "status_rank",
}


def sort_value(customer: Customer | ListRow, field: str) -> Any:
    return getattr(customer, _SORT_ATTRIBUTES[field])


Segment = Literal["values", "nulls"]


def _segments(field: str, descending: bool) -> list[Segment]:
    """Customers without an expiry come after every date ascending, before them descending.

    The nullable sort is read as two index ranges (dates, then no date) rather than one
    expression, so both stay index scans on PostgreSQL and SQLite alike.
    """
    if field != "expires_at":
        return ["values"]
    return ["nulls", "values"] if descending else ["values", "nulls"]


_KEY_TYPES: dict[str, Any] = {
    "created_at": tuple[datetime, str],
    "name": tuple[str, str],
    "expires_at": tuple[datetime | None, str],
    "status": tuple[SortInt, str],
}
# One keyset an order: a cursor of one sort given with another is refused, not misread.
KEYSETS: dict[str, Keyset[tuple[Any, str]]] = {
    sort: Keyset(f"customers.customers.{sort}", _KEY_TYPES[sort.lstrip("-")])
    for sort in get_args(SortKey)
}


def encode_cursor(sort: SortKey, value: Any, last_id: str) -> str:
    return KEYSETS[sort].encode((value, last_id))


async def _read_connection(session: AsyncSession) -> AsyncConnection:
    """The session's connection, without a transaction on PostgreSQL if none is open yet: each
    statement of a page has its own snapshot under READ COMMITTED anyway, so a transaction
    only added a BEGIN and a ROLLBACK, two round trips per page. (SQLite's driver begins no
    transaction for a read, and switching its mode costs a hop to its thread.)"""
    if session.in_transaction() or session.get_bind().dialect.name != "postgresql":
        return await session.connection()
    return await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


@functools.lru_cache(maxsize=STATEMENTS_KEPT)
def _page_statement(
    names: tuple[str, ...],
    *,
    field: str,
    descending: bool,
    segment: Segment,
    after: bool,
    one_status: bool,
    alternative: int | None,
) -> Select[Any]:
    """The select of one index range of a page, its values as parameters: the filters', then
    `q_*` (the search `alternative`'s), `one_status`, `after_value` and `after_id` (the cursor),
    `page_limit`."""
    column = _SORT_COLUMNS[field]
    conditions = _clauses(names)
    if alternative is not None:
        conditions.append(_SEARCH[alternative])
    if one_status:
        conditions.append(Customer.status == bindparam("one_status"))
    after_id = bindparam("after_id", type_=Customer.id.type)
    if segment == "nulls":
        conditions.append(column.is_(None))
        if after:
            conditions.append(Customer.id < after_id if descending else Customer.id > after_id)
    else:
        if field == "expires_at":
            conditions.append(column.is_not(None))
        if after:
            key = tuple_(column, Customer.id)
            bound = tuple_(bindparam("after_value", type_=column.type), after_id)
            conditions.append(key < bound if descending else key > bound)
    # The same (column, id) order in the null segment too, where the column is constant: it
    # matches the (expires_at, id) index, so PostgreSQL reads the NULL range of that index
    # instead of walking the primary key and filtering.
    order = [column.desc(), Customer.id.desc()] if descending else [column.asc(), Customer.id.asc()]
    return (
        select(*LIST_COLUMNS)
        .join(Account, Account.customer_id == Customer.id)
        .where(*conditions)
        .order_by(*order)
        .limit(bindparam("page_limit", type_=Integer))
    )


def split_statuses(f: ListFilters) -> list[str] | None:
    """The statuses a filter allows, when it allows more than one but not all."""
    allowed = set(STATUS_RANK)
    if f.status:
        allowed &= set(f.status)
    if f.status_group == "active":
        allowed &= set(ACTIVE_STATUSES)
    elif f.status_group == "inactive":
        allowed &= set(INACTIVE_STATUSES)
    if len(allowed) in (1, len(STATUS_RANK)) or not allowed:
        return None
    return sorted(allowed, key=STATUS_RANK.__getitem__)


async def page_rows(
    session: AsyncSession,
    selected: Criteria,
    *,
    sort: SortKey,
    limit: int,
    after: tuple[Any, str] | None,
    statuses: list[str] | None = None,
    alternative: int | None = None,
) -> list[ListRow]:
    """Up to `limit` rows of LIST_COLUMNS after `after` in `sort` order.

    With several `statuses` (a status group, or repeated `status`), each status is read on its
    own (status, column, id) index range and the pages are merged: a database reads an ordered
    range of one status, but not the ordered union of two (the active group sorted by expiry
    would otherwise walk past every expired customer first). Likewise each alternative of a
    search (see _SEARCH); a customer found by two appears once.
    """
    if selected.search and alternative is None:
        found: dict[str, ListRow] = {}
        for each in range(len(_SEARCH)):
            for row in await page_rows(
                session,
                selected,
                sort=sort,
                limit=limit,
                after=after,
                statuses=statuses,
                alternative=each,
            ):
                found[row.id] = row
        return _merged(list(found.values()), sort, limit)
    field, descending = sort.lstrip("-"), sort.startswith("-")
    if statuses and field != "status":
        merged: list[ListRow] = []
        for status in statuses:
            merged += await _range_rows(
                session, selected, field, descending, limit, after, alternative, status
            )
        return _merged(merged, sort, limit)
    return await _range_rows(session, selected, field, descending, limit, after, alternative)


async def _range_rows(
    session: AsyncSession,
    selected: Criteria,
    field: str,
    descending: bool,
    limit: int,
    after: tuple[Any, str] | None,
    alternative: int | None,
    status: str | None = None,
) -> list[ListRow]:
    """The rows of one index range (nullable sorts: two segments, read in turn)."""
    segments = _segments(field, descending)
    start = 0
    if after is not None and len(segments) > 1:
        start = segments.index("nulls" if after[0] is None else "values")
    # Core execution on the session's connection: these are plain rows, and the ORM's
    # compile and result machinery cost more CPU than the page's SQL (py-spy).
    connection = await _read_connection(session)
    params = dict(selected.params)
    if status is not None:
        params["one_status"] = status
    rows: list[ListRow] = []
    for position, segment in enumerate(segments[start:]):
        continues = after is not None and position == 0
        statement = _page_statement(
            selected.names,
            field=field,
            descending=descending,
            segment=segment,
            after=continues,
            one_status=status is not None,
            alternative=alternative,
        )
        if after is not None and continues:
            params["after_value"], params["after_id"] = after
        params["page_limit"] = limit - len(rows)
        rows += (await connection.execute(statement, params)).all()
        if len(rows) >= limit:
            break
    return rows


def _merged(rows: list[ListRow], sort: SortKey, limit: int) -> list[ListRow]:
    ordered = sorted(rows, key=lambda row: _merge_key(row, sort), reverse=sort[0] == "-")
    return ordered[:limit]


def _merge_key(customer: ListRow, sort: SortKey) -> tuple[int, Any, str]:
    """The list order in Python: the first element puts customers without an expiry after
    every date ascending (before them descending), as the segments do."""
    value = sort_value(customer, sort.lstrip("-"))
    if value is None:
        return (1, 0, customer.id)
    return (0, value, customer.id)


@dataclass(frozen=True)
class Total:
    count: int
    exact: bool


@functools.lru_cache(maxsize=STATEMENTS_KEPT)
def _count_statement(names: tuple[str, ...], search: bool, capped: bool) -> Select[Any]:
    """The total's count, kept per shape like the pages' (`cap_plus_one`: the cap's limit)."""
    clauses = _clauses(names)
    if search:
        clauses.append(or_(*_SEARCH))
    if not capped:
        return select(func.count()).select_from(Customer).where(*clauses)
    matches = (
        select(Customer.id)
        .where(*clauses)
        .limit(bindparam("cap_plus_one", type_=Integer))
        .subquery()
    )
    return select(func.count()).select_from(matches)


async def count_matches(
    session: AsyncSession, selected: Criteria, *, cap: int = TOTAL_CAP
) -> Total:
    """Exact on SQLite and up to `cap` on PostgreSQL, where counting a million rows takes a
    noticeable part of a second on every page."""
    connection = await _read_connection(session)  # Core, as page_rows
    if connection.dialect.name != "postgresql":
        statement = _count_statement(selected.names, selected.search, capped=False)
        count = await connection.scalar(statement, selected.params)
        return Total(int(count or 0), True)
    statement = _count_statement(selected.names, selected.search, capped=True)
    params = {**selected.params, "cap_plus_one": cap + 1}
    count = int(await connection.scalar(statement, params) or 0)
    if count <= cap:
        return Total(count, True)
    if not selected.names and not selected.search:
        estimate = await connection.scalar(
            text("SELECT reltuples::bigint FROM pg_class WHERE oid = 'customer'::regclass")
        )
        return Total(max(int(estimate or 0), cap + 1), False)
    return Total(cap + 1, False)


@dataclass(frozen=True)
class RowPage:
    """One page as rows of LIST_COLUMNS, before it is shaped (models or JSON bytes)."""

    rows: list[ListRow]
    next_cursor: str | None
    total: Total | None


async def page_of_rows(
    session: AsyncSession,
    filters: ListFilters,
    *,
    sort: SortKey = "-created_at",
    limit: int = 50,
    cursor: str | None = None,
    with_total: bool = True,
    total_cap: int = TOTAL_CAP,
) -> RowPage:
    """One page in keyset order (sort column, then id), so deep pages cost what the first does."""
    selected = criteria(filters)
    after = KEYSETS[sort].decode(cursor) if cursor else None
    rows = await page_rows(
        session,
        selected,
        sort=sort,
        limit=limit + 1,
        after=after,
        statuses=split_statuses(filters),
    )
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(sort, sort_value(last, sort.lstrip("-")), last.id)
    total = None
    if with_total:
        total = await count_matches(session, selected, cap=total_cap)
    return RowPage(rows[:limit], next_cursor, total)


async def list_customers(
    session: AsyncSession,
    filters: ListFilters,
    *,
    sort: SortKey = "-created_at",
    limit: int = 50,
    cursor: str | None = None,
    with_total: bool = True,
    total_cap: int = TOTAL_CAP,
) -> CustomerPage:
    """The page as models (see page_of_rows)."""
    page = await page_of_rows(
        session,
        filters,
        sort=sort,
        limit=limit,
        cursor=cursor,
        with_total=with_total,
        total_cap=total_cap,
    )
    items = [to_public(row, row) for row in page.rows]
    if page.total is None:
        return CustomerPage(items=items, next_cursor=page.next_cursor)
    return CustomerPage(
        items=items,
        next_cursor=page.next_cursor,
        total=page.total.count,
        total_exact=page.total.exact,
    )


async def list_customers_json(
    session: AsyncSession,
    filters: ListFilters,
    *,
    sort: SortKey = "-created_at",
    limit: int = 50,
    cursor: str | None = None,
) -> bytes:
    """The page with its total as the JSON bytes of `list_customers`'s model, written from the
    rows (list_json.py): what the service's list route answers."""
    page = await page_of_rows(session, filters, sort=sort, limit=limit, cursor=cursor)
    assert page.total is not None  # asked for with_total
    return page_json(
        page.rows, page.next_cursor, total=page.total.count, total_exact=page.total.exact
    )


# --- CSV -------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "id",
    "status",
    "source",
    "login",
    "webshop_id",
    "title",
    "first_name",
    "last_name",
    "email",
    "phone",
    "mobile",
    "street",
    "zip",
    "city",
    "state",
    "country",
    "comments",
    "mapping_id",
    "product_id",
    "plan_id",
    "extra_product_ids",
    "subscription_status",
    "expires_at",
    "created_at",
    "updated_at",
)
_FORMULA_START = ("=", "@", "\t", "\r", "+", "-")


def csv_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: a leading = + - @ would start a formula (CSV
    injection), except in a plain number such as an E.164 phone."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    cell = str(value)
    if cell.startswith(_FORMULA_START):
        rest = cell[1:].replace(" ", "")
        if not (cell[0] in "+-" and rest.isdigit()):
            return "'" + cell
    return cell


def _csv_row(row: ListRow) -> list[str]:
    values: dict[str, object] = {"extra_product_ids": " ".join(row.extra_product_ids or [])}
    return [
        csv_cell(values[name] if name in values else getattr(row, name)) for name in CSV_COLUMNS
    ]


def _csv_lines(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


async def stream_csv(
    db: Database, filters: ListFilters, *, sort: SortKey, batch: int = CSV_BATCH
) -> AsyncIterator[str]:
    """The whole filtered list as CSV, read in keyset batches of `batch` rows, each in a short
    session of its own: memory stays flat and no transaction stays open for the download."""
    selected = criteria(filters)
    yield _csv_lines([list(CSV_COLUMNS)])
    after: tuple[Any, str] | None = None
    field = sort.lstrip("-")
    while True:
        async with db.sessions() as session:
            rows = await page_rows(
                session,
                selected,
                sort=sort,
                limit=batch,
                after=after,
                statuses=split_statuses(filters),
            )
            lines = _csv_lines([_csv_row(row) for row in rows])
        if lines:
            yield lines
        if len(rows) < batch:
            return
        last = rows[-1]
        after = (sort_value(last, field), last.id)
