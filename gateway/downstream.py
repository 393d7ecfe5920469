"""Calls from the gateway to the four services over one shared HTTP client.

Errors come back as Problems the gateway can raise as they are: a service's own 4xx problem
keeps its status and body, a service that cannot be reached or is too slow becomes 503
"Service unavailable" naming it, and a service that fails (5xx) becomes 502.

A write route's Downstream (`writing`, see gateway/idempotent_writes.py) carries the client's
Idempotency-Key unchanged on every call but a GET, and notes when a service answered from a
stored answer (`Idempotent-Replayed`), for the gateway's answer to say so too.

A pooled keep-alive connection can be dead when it is taken: a service that failed a request
(uvicorn closes the connection after a 500 it did not mark `Connection: close`) or restarted.
A call that may be repeated (GET, HEAD, OPTIONS, or a write carrying an Idempotency-Key, which
the service answers once) is sent once more, on a new connection, when the connection breaks
before an answer; any other call becomes 503, since the service may have acted on it.
"""

import asyncio
import contextvars
import json
import logging
import time
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter, ValidationError

from gateway.metrics import DOWNSTREAM_RETRIES, DOWNSTREAM_SECONDS
from services.runtime.idempotency import HEADER, REPLAYED_HEADER
from services.runtime.problems import Problem
from services.runtime.service_auth import SYSTEM_ACTOR, ServiceTokenAuth
from services.runtime.transient import RETRY_AFTER_SECONDS

log = logging.getLogger(__name__)

T = TypeVar("T")
QueryParams = Sequence[tuple[str, str | int]]

# Set in the request's ASGI state when a service replayed a stored answer.
REPLAYED_STATE = "idempotent_replayed"

# Methods a service may receive twice without harm (RFC 9110, 9.2.2), besides keyed writes.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What httpx raises when the connection broke before the answer: the server closed it
# (RemoteProtocolError "Server disconnected without sending a response", ReadError on a reset),
# the request could not be written on it, or no new connection could be made.
_BROKEN_CONNECTION = (
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
    httpx.ConnectError,
)

# How long a pooled connection to a service may sit idle. The services' uvicorn closes one after
# 5 s (its timeout_keep_alive), which is also httpx's default expiry: a request sent in that
# instant meets a closed socket, and an unkeyed write cannot be retried. Ours expires first.
IDLE_CONNECTION_SECONDS = 2.0

# Problem members that describe the problem itself; the rest (errors, field, ...) travel along.
_PROBLEM_CORE = {"type", "title", "status", "detail", "instance"}


# Who the gateway is acting for, set when a request's caller is authenticated
# (gateway/identity/auth.py) and carried in each call's service token, so the service's own
# logs name the operator as the audit log does ("alice", or "api_key:<name>" for a machine).
acting_for: contextvars.ContextVar[str] = contextvars.ContextVar("acting_for", default=SYSTEM_ACTOR)


def service_auth(key: str) -> ServiceTokenAuth:
    """The authentication of the one shared client: every call to a service carries a fresh
    service token naming the operator of the request being served."""
    return ServiceTokenAuth(key, actor=acting_for.get)


def segment(value: str) -> str:
    """`value` as one URL path segment: a client's "../x" must not reach another route."""
    return quote(value, safe="")


def service_unavailable(service: str, reason: str) -> Problem:
    # Retry-After as the services' own 503 says it (services/runtime/transient.py): a client
    # retrying an unreachable or slow service learns when, like one refused for an outage.
    return Problem(
        503,
        "Service unavailable",
        f"the {service} service is unavailable: {reason}",
        extra={"service": service, "retry_after": RETRY_AFTER_SECONDS},
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def bad_answer(service: str, reason: str) -> Problem:
    return Problem(
        502, "Bad gateway", f"the {service} service {reason}", extra={"service": service}
    )


class Downstream:
    """The services' base URLs and the one `httpx.AsyncClient` all calls share."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_urls: Mapping[str, str],
        timeout_seconds: float,
        *,
        idempotency_key: str | None = None,
        request_state: MutableMapping[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.base_urls = dict(base_urls)
        self.timeout_seconds = timeout_seconds
        self.idempotency_key = idempotency_key
        self.request_state = request_state

    def writing(
        self, idempotency_key: str | None, request_state: MutableMapping[str, Any]
    ) -> "Downstream":
        """This client for one write request: its key forwarded, its replays noted."""
        return Downstream(
            self.client,
            self.base_urls,
            self.timeout_seconds,
            idempotency_key=idempotency_key,
            request_state=request_state,
        )

    async def send(
        self,
        service: str,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout_seconds: float | None = None,
    ) -> httpx.Response:
        """The service's answer whatever its status; raises 503 if there is no answer in time."""
        limit = timeout_seconds or self.timeout_seconds
        if self.idempotency_key and method != "GET":
            headers = {**(headers or {}), HEADER: self.idempotency_key}
        started = time.perf_counter()
        outcome = "error"
        try:
            # httpx's timeout bounds each phase (connect, each read); this bounds the whole
            # call, so a service that trickles its answer cannot hold the page.
            async with asyncio.timeout(limit):
                request = self.client.build_request(
                    method,
                    self.base_urls[service] + path,
                    params=list(params) if params else None,
                    json=json_body,
                    headers=dict(headers) if headers else None,
                    timeout=limit,
                )
                response = await self._send_once_more_if_broken(service, request)
            outcome = str(response.status_code)
            if self.request_state is not None and response.headers.get(REPLAYED_HEADER):
                self.request_state[REPLAYED_STATE] = True
            return response
        except (TimeoutError, httpx.TimeoutException):
            outcome = "timeout"
            raise service_unavailable(service, f"no answer within {limit:g} s") from None
        except httpx.TransportError as error:
            outcome = "unreachable"
            reason = f"cannot reach it ({type(error).__name__})"
            raise service_unavailable(service, reason) from None
        finally:
            DOWNSTREAM_SECONDS.labels(service, outcome).observe(time.perf_counter() - started)

    async def _send_once_more_if_broken(
        self, service: str, request: httpx.Request
    ) -> httpx.Response:
        try:
            return await self.client.send(request)
        except _BROKEN_CONNECTION as error:
            if not repeatable(request):
                raise
            # httpcore dropped the broken connection from the pool: this goes on a new one.
            DOWNSTREAM_RETRIES.labels(service, type(error).__name__).inc()
            log.info("%s: connection broke (%s), sending again", service, type(error).__name__)
            return await self.client.send(request)

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout_seconds: float | None = None,
    ) -> Any:
        """The decoded JSON of a successful answer (None when empty); a Problem otherwise."""
        response = await self.send(
            service,
            method,
            path,
            params=params,
            json_body=json_body,
            headers=headers,
            timeout_seconds=timeout_seconds,
        )
        return success_body(service, response)


def repeatable(request: httpx.Request) -> bool:
    """Whether sending `request` twice has the effect of sending it once."""
    return request.method in _SAFE_METHODS or HEADER in request.headers


def success_body(service: str, response: httpx.Response) -> Any:
    """The decoded JSON of a successful answer (None when empty); a Problem for an error."""
    if not response.is_success:
        raise problem_from(service, response)
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise bad_answer(service, "answered with something that is not JSON") from None


def problem_from(service: str, response: httpx.Response) -> Problem:
    """The gateway's Problem for a service's error answer."""
    status = response.status_code
    if status >= 500 and status != 503:
        return bad_answer(service, f"failed ({status})")
    if status == 401:
        # The service refused the gateway itself, not the operator: a deployment whose
        # SERVICE_TOKEN_SECRET differs between the two. Not the client's fault, nor its 401.
        return bad_answer(service, "refused the gateway's service token (SERVICE_TOKEN_SECRET)")
    body = _json_object(response)
    title = str(body.get("title") or response.reason_phrase or "Error")
    detail = body.get("detail")
    extra = {key: value for key, value in body.items() if key not in _PROBLEM_CORE}
    if status == 503:
        # The service itself says it cannot serve now: name it, like an unreachable one.
        extra["service"] = service
    return Problem(
        status,
        title,
        str(detail) if detail is not None else None,
        type_=str(body.get("type") or "about:blank"),
        extra=extra,
        # A key still in flight (409) says when to retry; the client needs it as much.
        headers={"Retry-After": retry} if (retry := response.headers.get("Retry-After")) else None,
    )


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def parse_as(adapter: TypeAdapter[T], data: Any, service: str) -> T:
    """`data` from `service` as the gateway's model; a 502 if the service broke its contract."""
    try:
        return adapter.validate_python(data)
    except ValidationError as error:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in error.errors()[:5])
        raise bad_answer(service, f"answered in an unexpected shape ({fields})") from None


def parse_json_as(adapter: TypeAdapter[T], response: httpx.Response, service: str) -> T:
    """A successful answer's body, parsed and checked in one pass (pydantic's own JSON parser)
    instead of `json.loads` then a walk of the Python objects; a 502 as `parse_as` does."""
    if not response.is_success:
        raise problem_from(service, response)
    try:
        return adapter.validate_json(response.content)
    except ValidationError as error:
        if any(e["type"] == "json_invalid" for e in error.errors()):
            raise bad_answer(service, "answered with something that is not JSON") from None
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in error.errors()[:5])
        raise bad_answer(service, f"answered in an unexpected shape ({fields})") from None
