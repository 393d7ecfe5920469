"""Idempotency-Key through the gateway: a write route takes the key (the runtime's one header
type), its service calls carry it unchanged, and an answer a service replayed from its stored
answer is marked `Idempotent-Replayed: true` in the gateway's answer too. The services do the
rest (services/runtime/idempotency.py): the gateway stores nothing.
"""

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.clients import ServiceClients
from gateway.deps import ServicesDep
from gateway.downstream import REPLAYED_STATE
from services.runtime.idempotency import REPLAYED_HEADER, IdempotencyKey


async def get_write_services(
    request: Request, services: ServicesDep, idempotency_key: IdempotencyKey = None
) -> ServiceClients:
    """The clients of one write request: over a transport that forwards its key and notes its
    replays."""
    state: dict[str, Any] = request.scope.setdefault("state", {})
    return ServiceClients.over(services.downstream.writing(idempotency_key, state))


# What every write route that calls a service takes instead of ServicesDep.
WriteServicesDep = Annotated[ServiceClients, Depends(get_write_services)]


class ReplayedHeader:
    """Adds `Idempotent-Replayed: true` to an answer whose service call was a replay. A plain
    ASGI middleware: it reads the request's state when the answer starts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start" and state.get(REPLAYED_STATE):
                headers = list(message.get("headers", []))
                headers.append((REPLAYED_HEADER.lower().encode(), b"true"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_marked)
