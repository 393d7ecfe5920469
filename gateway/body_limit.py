"""Refuses a request body larger than the gateway will ever need (413), before it is parsed.

A declared Content-Length over the limit is answered at once; a chunked body is counted as it
arrives and cut off when it passes the limit, so neither way does a client make the gateway
read (and JSON-parse) megabytes. Legitimate bodies are a few kilobytes (the largest: a catalog
product with its plans).
"""

import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.runtime.problems import problem_response


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            "Content too large",
            f"the request body is larger than {self.max_bytes} bytes",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_bytes:
                    await self._refuse(scope, receive, send)
                    return
                break
        received = 0
        exceeded = started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's own answer to the cut body (FastAPI's 400) is replaced
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(BodyTooLarge):  # FastAPI may also swallow it into a 400
            await self.app(scope, counting_receive, watching_send)
        if exceeded and not started:
            await self._refuse(scope, receive, send)
