"""What every service client shares: one service's name, the transport (`Downstream`: timeouts,
metrics, a service's problem passed on, 503 for one that does not answer) and an answer parsed
into its model, a 502 naming the fields when the service broke its contract."""

from collections.abc import Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from gateway.downstream import Downstream, QueryParams, parse_as, segment, success_body
from services.contracts.timeline import ServiceTimeline

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

__all__ = [
    "CustomerTimelineClient",
    "M",
    "ServiceClient",
    "page_params",
    "segment",
]


def page_params(limit: int, cursor: str | None) -> list[tuple[str, str | int]]:
    params: list[tuple[str, str | int]] = [("limit", limit)]
    if cursor:
        params.append(("cursor", cursor))
    return params


class ServiceClient:
    """Base of the four clients: each subclass names its service and has one method per call."""

    service: str

    def __init__(self, downstream: Downstream) -> None:
        self.downstream = downstream

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The answer whatever its status (the caller reads its status or headers)."""
        return await self.downstream.send(
            self.service, method, path, params=params, json_body=body, headers=headers
        )

    async def _call(
        self,
        method: str,
        path: str,
        answer: type[T],
        *,
        params: QueryParams | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """A successful answer parsed as `answer`; the service's problem otherwise."""
        response = await self._send(method, path, params=params, body=body, headers=headers)
        return self._parse(answer, success_body(self.service, response))

    async def _call_no_content(
        self, method: str, path: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        success_body(self.service, await self._send(method, path, headers=headers))

    def _parse_success(self, answer: type[T], response: httpx.Response) -> T:
        return self._parse(answer, success_body(self.service, response))

    def _parse(self, answer: type[T], data: Any) -> T:
        return parse_as(_adapter(answer), data, self.service)


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(answer: type[T]) -> TypeAdapter[T]:
    # A TypeAdapter builds a validator: once per type, not per call.
    adapter = _ADAPTERS.get(answer)
    if adapter is None:
        adapter = _ADAPTERS[answer] = TypeAdapter(answer)
    return adapter


class CustomerTimelineClient(ServiceClient):
    """Every service serves a customer's timeline and its dashboard figures alike."""

    async def timeline(self, customer_id: str, *, limit: int) -> ServiceTimeline:
        path = f"/customers/{segment(customer_id)}/timeline"
        return await self._call("GET", path, ServiceTimeline, params=[("limit", limit)])

    async def health(self) -> httpx.Response:
        return await self._send("GET", "/healthz")
