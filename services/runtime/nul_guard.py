"""Refuses NUL characters anywhere in a request (path, query, JSON body) with 422, in the
gateway and in every service, before any handler or database sees them.

PostgreSQL cannot store NUL in text (the request failed with a 500), SQLite stores it and cuts
strings at it later (a CSV export answered 200 with a cut body), and no name, e-mail, search
term or reason ever needs one. One guard covers every field, including those added later.
"""

import json
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.runtime.problems import field_error, problem_response

# A JSON string escape \u0000 that is not itself escaped (an odd run of backslashes before u).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


def _query_field_with_nul(query_string: bytes) -> str | None:
    for pair in query_string.split(b"&"):
        name, _, value = pair.partition(b"=")
        if b"\x00" in unquote_to_bytes(value.replace(b"+", b" ")) or b"\x00" in unquote_to_bytes(
            name
        ):
            return unquote_to_bytes(name).decode("utf-8", "replace").replace("\x00", "") or "query"
    return None


def _path_with_nul(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (or key) in a JSON document holding a NUL."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return here.replace("\x00", "")
            found = _path_with_nul(item, here)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _path_with_nul(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


def _body_field_with_nul(body: bytes) -> str | None:
    if b"\x00" not in body and not _JSON_NUL.search(body):
        return None
    try:
        return _path_with_nul(json.loads(body)) or "body"
    except ValueError:
        return "body"


class NulGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, field: str) -> None:
        response = problem_response(
            422,
            "Unprocessable content",
            "text may not contain NUL characters",
            extra={"errors": [field_error(field, "may not contain NUL characters")]},
        )
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", ""):
            await self._refuse(scope, receive, send, "path")
            return
        field = _query_field_with_nul(scope.get("query_string", b""))
        if field is not None:
            await self._refuse(scope, receive, send, field)
            return
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        if b"json" not in content_type:
            await self.app(scope, receive, send)
            return
        # JSON bodies are small (the gateway caps them): read it whole, check, hand it on.
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)  # a disconnect: let the app see it
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        field = _body_field_with_nul(body)
        if field is not None:
            await self._refuse(scope, receive, send, field)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
