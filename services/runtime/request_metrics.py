"""Counts a process's HTTP requests by method, route template and status (`HTTP_REQUESTS`):
the gateway's and each service's.

A plain ASGI middleware: `@app.middleware("http")` (Starlette's BaseHTTPMiddleware) runs the
rest of the app in a task with memory streams between them, which cost ~0.5 ms of every request
here (measured in docs/customers-list.md); this only watches the response start message.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.runtime.metrics import HTTP_REQUESTS


def _route_template(scope: Scope) -> str:
    """The matched route's path template, so metrics do not get one series per customer id."""
    route = scope.get("route")
    return str(getattr(route, "path", None) or "unmatched")


class RequestCounter:
    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_counting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counting)
        finally:
            HTTP_REQUESTS.labels(
                self.service, scope["method"], _route_template(scope), str(status)
            ).inc()
