"""A date-time in a query string, read as its OpenAPI schema says (RFC 3339 `date-time`).

pydantic's lax mode also takes a number of seconds since 1970: `expires_before=0` was read as
1970-01-01 and answered 200, where the documented contract says 422.
"""

import re
from datetime import datetime
from typing import Annotated

from pydantic import BeforeValidator

_NUMBER = re.compile(r"\s*[-+]?\d+(\.\d*)?\s*")


def _not_a_number(value: object) -> object:
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        raise ValueError("not an RFC 3339 date-time (such as 2026-12-31T00:00:00Z)")
    return value


QueryDatetime = Annotated[datetime, BeforeValidator(_not_a_number)]
