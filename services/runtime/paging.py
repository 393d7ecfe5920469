"""How every list pages, in every service and the gateway: keyset cursors, one page shape
(`items` + `next_cursor`), one bound on `limit` and one on a cursor's length.

A cursor is the last row's sort values, typed, with a short keyed checksum in front, url-safe
base64 without padding. The checksum's key is the list's name, so a cursor edited by hand or
given to another list (or to the same list under another sort) is refused as a 422 naming
`cursor` instead of paging from a wrong place. It is not a secret: a forged cursor can only
move the page's starting point within a list the caller may read anyway.
"""

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import QueryableAttribute

from services.runtime.problems import Problem, field_error

T = TypeVar("T")
K = TypeVar("K", bound=tuple[Any, ...])
R = TypeVar("R")
Columns = tuple[QueryableAttribute[Any] | ColumnElement[Any], ...]

MAX_PAGE_SIZE = 500
# A customer's name sort is the longest key: 201 characters of name (at most 4 bytes each in
# UTF-8) and an id come to 1,144 characters of base64.
MAX_CURSOR_LENGTH = 1200
_CHECK_BYTES = 8

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR_LENGTH,
        description="The `next_cursor` of the previous page; none for the first.",
    ),
]


# An integer sort value stored as a 32-bit column or computed as one (a status rank).
SortInt = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]


def _fits_sql(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, tuple | list):
        return all(_fits_sql(item) for item in value)
    return True


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` back as `cursor` for the next, null at the end."""

    items: list[T]
    next_cursor: str | None = None


def bad_cursor(reason: str = "not a cursor of this list") -> Problem:
    return Problem(
        422,
        "Bad cursor",
        "the cursor is not one this list gave out",
        errors=[field_error("cursor", reason)],
    )


class Keyset(Generic[K]):
    """The cursor codec of one list: `shape` is the tuple type of its sort values, last the id.

    ``Keyset("billing.invoices", tuple[datetime, str])`` encodes ``(recorded_at, id)`` and
    decodes only cursors it encoded, back to those types.
    """

    def __init__(self, list_name: str, shape: type[K]) -> None:
        self.list_name = list_name
        self._key = list_name.encode()
        self._adapter: TypeAdapter[K] = TypeAdapter(shape)

    def _check(self, body: bytes) -> bytes:
        return hashlib.blake2b(body, key=self._key, digest_size=_CHECK_BYTES).digest()

    def encode(self, values: K) -> str:
        body = self._adapter.dump_json(values)
        raw = self._check(body) + body
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, cursor: str) -> K:
        """The values `cursor` carries; a 422 naming `cursor` if this list did not give it."""
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise bad_cursor(f"longer than {MAX_CURSOR_LENGTH} characters")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise bad_cursor() from None
        check, body = raw[:_CHECK_BYTES], raw[_CHECK_BYTES:]
        if not hmac.compare_digest(check, self._check(body)):
            raise bad_cursor()
        try:
            values = self._adapter.validate_json(body, strict=True)
        except ValidationError:
            # The checksum matched but the values do not fit: a cursor of an older release.
            raise bad_cursor() from None
        # The checksum's key is the list's name, not a secret: a hand-made cursor can carry
        # any value its types allow. None may reach SQL as a 500 (an integer past the column's
        # range, a NUL that PostgreSQL refuses in text).
        if not _fits_sql(values):
            raise bad_cursor()
        return values

    def where(self, cursor: str, columns: Columns, *, descending: bool) -> ColumnElement[bool]:
        """The rows after `cursor` in the order of `columns` (its sort values, in order)."""
        return after(columns, self.decode(cursor), descending=descending)

    def cut(
        self, rows: Sequence[R], limit: int, key: Callable[[R], K]
    ) -> tuple[list[R], str | None]:
        """The page of `rows` read with `limit + 1`, and the cursor after it (None at the end):
        the extra row only tells that there is more."""
        if len(rows) <= limit:
            return list(rows), None
        return list(rows[:limit]), self.encode(key(rows[limit - 1]))


def after(columns: Columns, values: tuple[Any, ...], *, descending: bool) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order of `columns` (all ascending or all
    descending): `(a, b) > (x, y)` spelled out, which SQLite and PostgreSQL both index-scan."""
    clauses: list[ColumnElement[bool]] = []
    for i, (column, value) in enumerate(zip(columns, values, strict=True)):
        equal = [c == v for c, v in zip(columns[:i], values[:i], strict=True)]
        beyond = column < value if descending else column > value
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)
