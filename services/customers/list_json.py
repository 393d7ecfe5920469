"""A list page as JSON bytes straight from its rows (listing.LIST_COLUMNS), without building a
`CustomerPublic` per row and dumping it again.

The bytes are those `CustomerPage.model_dump_json()` writes for the same page (same keys in the
same order, UTC datetimes ending in `Z`, no spaces; a test compares them), so the route's
response_model still documents exactly what is sent. Building and validating 50 models and
dumping them was most of the service's own CPU per page (docs/performance.md, "List: the
customers service").
"""

from typing import Any

import orjson

from services.contracts.customers import CustomerInfo

# UTC datetimes as pydantic writes them ("...Z"); the rows' datetimes are always aware UTC
# (db.UTCDateTime).
_OPTIONS = orjson.OPT_UTC_Z

# CustomerInfo's fields in its order; the other keys are written out below, and a test compares
# the bytes with the models' so a field added to a model cannot go missing here.
_INFO_FIELDS = tuple(CustomerInfo.model_fields)


def _info(row: Any) -> dict[str, Any]:
    info: dict[str, Any] = {}
    for name in _INFO_FIELDS:
        value = getattr(row, name)
        # CustomerInfo strips whitespace (str_strip_whitespace): the stored value was stripped
        # when it was validated, but a row written otherwise must read the same either way.
        info[name] = value.strip() if isinstance(value, str) else value
    return info


def customer_dict(row: Any) -> dict[str, Any]:
    """One row as the dict `CustomerPublic.model_dump(mode="python")` would give."""
    return {
        "id": row.id,
        "status": row.status,
        "source": row.source,
        "login": row.login,
        "webshop_id": row.webshop_id,
        "info": _info(row),
        "subscription": {
            "product_id": row.product_id,
            "plan_id": row.plan_id,
            "extra_product_ids": list(row.extra_product_ids or []),
            "status": row.subscription_status,
            "expires_at": row.expires_at,
        },
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def page_json(
    rows: list[Any],
    next_cursor: str | None,
    *,
    total: int | None = None,
    total_exact: bool = True,
) -> bytes:
    """The page's JSON: `CustomerPage(items=..., next_cursor=..., total=..., total_exact=...)`
    dumped, written from the rows directly."""
    return orjson.dumps(
        {
            "items": [customer_dict(row) for row in rows],
            "next_cursor": next_cursor,
            "total": total,
            "total_exact": total_exact,
        },
        option=_OPTIONS,
    )
