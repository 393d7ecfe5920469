"""Idempotency-Key through the gateway: a write route takes the key (the runtime's one header
type), its service calls carry it unchanged, and an answer a service replayed from its stored
answer is marked `Idempotent-Replayed: true` in the gateway's answer too. The services do the
rest (services/runtime/idempotency.py): the gateway stores nothing.
"""

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.deps import DownstreamDep
from gateway.downstream import REPLAYED_STATE, Downstream
from services.runtime.idempotency import REPLAYED_HEADER, IdempotencyKey


async def get_write_downstream(
    request: Request, downstream: DownstreamDep, idempotency_key: IdempotencyKey = None
) -> Downstream:
    state: dict[str, Any] = request.scope.setdefault("state", {})
    return downstream.writing(idempotency_key, state)


# What every write route that calls a service takes instead of DownstreamDep.
WriteDownstreamDep = Annotated[Downstream, Depends(get_write_downstream)]


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
