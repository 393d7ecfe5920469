"""Keyset cursors of billing's lists: the last row's (moment, id), opaque to clients."""

import base64
import json
from datetime import datetime

from services.runtime.problems import Problem


def encode_cursor(at: datetime, row_id: str) -> str:
    raw = json.dumps([at.isoformat(), row_id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, row_id = json.loads(raw)
        if not isinstance(at, str) or not isinstance(row_id, str):
            raise ValueError
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError
        return moment, row_id
    except (ValueError, TypeError, json.JSONDecodeError) as error:
        raise Problem(
            400,
            "Bad cursor",
            "the cursor is not one this list gave out",
            extra={"field": "cursor"},
        ) from error
