"""RFC 9457 problem details for every HTTP error, with the failing fields named.

Every refusal has one shape: the RFC's members plus `errors: [{"field", "message"}]` when
fields are at fault, `field` being a body member's dotted path (`info.phone`), a query
parameter's or a header's name. Services and the gateway build theirs here, so the gateway can
pass a service's problem on unchanged.
"""

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, TypedDict

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.runtime.transient import RETRY_AFTER_SECONDS, is_transient

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class FieldError(TypedDict):
    """One failing field of a refused request."""

    field: str
    message: str


def field_error(field: str, message: str) -> FieldError:
    return {"field": field, "message": message}


class Problem(Exception):
    """Raise to answer with a problem+json body; `errors` names the fields at fault."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type_: str = "about:blank",
        errors: Sequence[FieldError] = (),
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        self.extra = dict(extra or {})
        if errors:
            self.extra["errors"] = list(errors)
        self.headers = headers


def problem_response(
    status: int,
    title: str | None = None,
    detail: str | None = None,
    *,
    instance: str | None = None,
    type_: str = "about:blank",
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_errors(error: RequestValidationError) -> list[FieldError]:
    out = []
    for item in error.errors():
        loc = [str(p) for p in item.get("loc", ()) if p not in ("body", "query", "path", "header")]
        out.append(field_error(".".join(loc) or "(body)", str(item.get("msg", ""))))
    return out


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(
            exc.status,
            exc.title,
            exc.detail,
            instance=request.url.path,
            type_=exc.type,
            extra=exc.extra,
            headers=exc.headers,
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = _field_errors(exc)
        fields = ", ".join(e["field"] for e in errors)
        return problem_response(
            422,
            "Validation failed",
            f"invalid fields: {fields}",
            instance=request.url.path,
            extra={"errors": errors},
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(
            exc.status_code,
            None,
            str(exc.detail) if exc.detail else None,
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_transient(exc):
            return unavailable_response(request.url.path)
        return problem_response(500, None, "unexpected error", instance=request.url.path)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)

    async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
        if is_transient(exc):
            log.warning(
                "%s %s refused, database unavailable: %r", request.method, request.url.path, exc
            )
            return unavailable_response(request.url.path)
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(500, None, "unexpected error", instance=request.url.path)

    # Registered by class as well as under Exception: Starlette answers a plain `Exception`
    # from its outermost middleware and raises it again, so the request metrics would count
    # an outage's 503 as a 500 and the log would show a traceback per refused request.
    for outage in (SQLAlchemyError, OSError):
        app.add_exception_handler(outage, on_database_error)
    app.add_exception_handler(Exception, on_unexpected)


def unavailable_response(instance: str | None = None) -> JSONResponse:
    """503 for a request refused because the database (or broker) is away: nothing was
    written, and the same request may be sent again after Retry-After."""
    return problem_response(
        503,
        "Service unavailable",
        "the service's database is unavailable; retry later (a write sent again with the same "
        "Idempotency-Key takes effect once)",
        instance=instance,
        extra={"retry_after": RETRY_AFTER_SECONDS},
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
