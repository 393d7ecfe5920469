"""A list page as JSON bytes straight from its rows (listing.LIST_COLUMNS), without building a
`CustomerPublic` per row and dumping it again.

The bytes are those `CustomerPage.model_dump_json()` writes for the same page (same keys in the
same order, UTC datetimes ending in `Z`, no spaces; a test compares them), so the route's
response_model still documents exactly what is sent. Building and validating 50 models and
dumping them was most of the service's own CPU per page (docs/performance.md, "List: the
customers service").
"""

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import Row

from services.contracts.customers import CustomerInfo

# UTC datetimes as pydantic writes them ("...Z"); the rows' datetimes are always aware UTC
# (db.UTCDateTime).
_OPTIONS = orjson.OPT_UTC_Z

# CustomerInfo's fields in its order; the other keys are written out below, and a test compares
# the bytes with the models' so a field added to a model cannot go missing here.
_INFO_FIELDS = tuple(CustomerInfo.model_fields)


def _stripped(value: Any) -> Any:
    # CustomerInfo strips whitespace (str_strip_whitespace): the stored value was stripped when
    # it was validated, but a row written otherwise must read the same either way.
    return value.strip() if isinstance(value, str) else value


class _Columns:
    """Where each value sits in a row of the page's result. A value is read by position from
    the row as a tuple: a Row's attribute by name costs ~2 µs, and a page reads 1,250 of them."""

    def __init__(self, fields: tuple[str, ...]) -> None:
        at = {name: index for index, name in enumerate(fields)}
        self.info = itemgetter(*(at[name] for name in _INFO_FIELDS))
        self.id, self.status, self.source = at["id"], at["status"], at["source"]
        self.login, self.webshop_id = at["login"], at["webshop_id"]
        self.product_id, self.plan_id = at["product_id"], at["plan_id"]
        self.extra_product_ids = at["extra_product_ids"]
        self.subscription_status, self.expires_at = at["subscription_status"], at["expires_at"]
        self.created_at, self.updated_at = at["created_at"], at["updated_at"]


def _customer(values: tuple[Any, ...], at: _Columns) -> dict[str, Any]:
    """One row as the dict `CustomerPublic.model_dump()` would give, keys in its order."""
    return {
        "id": values[at.id],
        "status": values[at.status],
        "source": values[at.source],
        "login": values[at.login],
        "webshop_id": values[at.webshop_id],
        "info": dict(zip(_INFO_FIELDS, map(_stripped, at.info(values)), strict=True)),
        "subscription": {
            "product_id": values[at.product_id],
            "plan_id": values[at.plan_id],
            "extra_product_ids": list(values[at.extra_product_ids] or []),
            "status": values[at.subscription_status],
            "expires_at": values[at.expires_at],
        },
        "created_at": values[at.created_at],
        "updated_at": values[at.updated_at],
    }


def page_json(
    rows: Sequence[Row[Any]],
    next_cursor: str | None,
    *,
    total: int | None = None,
    total_exact: bool = True,
) -> bytes:
    """The page's JSON: `CustomerPage(items=..., next_cursor=..., total=..., total_exact=...)`
    dumped, written from the rows directly."""
    at = _Columns(rows[0]._fields) if rows else None
    return orjson.dumps(
        {
            "items": [_customer(tuple(row), at) for row in rows] if at else [],
            "next_cursor": next_cursor,
            "total": total,
            "total_exact": total_exact,
        },
        option=_OPTIONS,
    )
