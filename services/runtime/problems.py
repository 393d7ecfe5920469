"""RFC 9457 problem details for every HTTP error, with the failing fields named.

Every refusal has one shape: the RFC's members plus `errors: [{"field", "message"}]` when
fields are at fault, `field` being a body member's dotted path (`info.phone`), a query
parameter's or a header's name. Services and the gateway build theirs here, so the gateway can
pass a service's problem on unchanged. The OpenAPI document says the same: every error answer
of every operation is `application/problem+json` with the `ProblemDetails` schema.
"""

import logging
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any, TypedDict

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
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
        if item.get("type") == "json_invalid":
            # Its loc is ("body", <character offset>): the body is at fault, not a field "7".
            out.append(field_error("(body)", f"not valid JSON: {item.get('ctx', {}).get('error')}"))
            continue
        loc = [str(p) for p in item.get("loc", ()) if p not in ("body", "query", "path", "header")]
        out.append(field_error(".".join(loc) or "(body)", str(item.get("msg", ""))))
    return out


# FastAPI's answer (400) to a body it could not read as JSON for a reason other than its syntax
# (bytes that are not UTF-8, nesting too deep for the parser). The same fault as malformed
# JSON, which it answers 422: every unreadable body is the one documented 422.
_UNPARSABLE_BODY = "There was an error parsing the body"


def install_problem_handlers(app: FastAPI, *, body_statuses: Sequence[int] = ()) -> None:
    """Every error answer of `app` becomes problem+json, and its OpenAPI document says so
    (`body_statuses`: what a middleware may answer to any request with a body, such as 413)."""

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
        if exc.status_code == 400 and exc.detail == _UNPARSABLE_BODY:
            return problem_response(
                422,
                "Validation failed",
                "invalid fields: (body)",
                instance=request.url.path,
                extra={"errors": [field_error("(body)", "not readable as UTF-8 JSON")]},
            )
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
    document_problems(app, body_statuses=body_statuses)


class ProblemField(BaseModel):
    """One failing field of a refused request."""

    model_config = ConfigDict(title="FieldError")

    field: str = Field(examples=["plan_id"])
    message: str = Field(examples=["plan basic-1m is not sold by webshop demo"])


class ProblemDetails(BaseModel):
    """RFC 9457 problem details; validation problems name each failing field in `errors`."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str = Field(examples=["Order not allowed"])
    status: int = Field(examples=[422])
    detail: str | None = None
    instance: str | None = Field(default=None, examples=["/api/v1/customers"])
    errors: list[ProblemField] | None = None
    service: str | None = Field(
        default=None, description="The service at fault, on 502/503 answers.", examples=["billing"]
    )


_COMPONENTS = "#/components/schemas/"


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": f"{_COMPONENTS}ProblemDetails"}}}


_DESCRIPTIONS = {
    400: "Bad request",
    401: "No valid credentials",
    403: "The caller's role lacks the permission",
    404: "Not found",
    409: "Conflicts with what exists, or the same Idempotency-Key is still in flight",
    413: "The request body is too large",
    422: "Validation failed; `errors` names each field at fault",
    429: "Too many requests; Retry-After says how many seconds to wait",
    502: "A service answered wrongly",
    503: "A service is unavailable; `service` names it",
}


def problem_responses(
    *statuses: int, descriptions: dict[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=` entries for the error statuses it can answer, all problem+json
    with the ProblemDetails schema; `descriptions` replaces the generic text of a status."""
    words = {**_DESCRIPTIONS, **(descriptions or {})}
    return {
        status: {
            "description": words.get(status, HTTPStatus(status).phrase),
            "content": _problem_content(),
        }
        for status in statuses
    }


def _problem_schemas() -> dict[str, Any]:
    schema = ProblemDetails.model_json_schema(ref_template=_COMPONENTS + "{model}")
    nested = schema.pop("$defs", {})
    return {"ProblemDetails": schema, **nested}


def _is_error(status: str) -> bool:
    return status[:1] in ("4", "5") or status == "default"


def _describe_problems(document: dict[str, Any], body_statuses: Sequence[int]) -> None:
    for item in document.get("paths", {}).values():
        for operation in item.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            # Any request may be refused: validation and the NUL guard on every path and query
            # (422), the database's outage (503, on_database_error above).
            implied = [422, 503]
            if operation.get("security"):
                implied.append(401)
            if "requestBody" in operation:
                implied.extend(body_statuses)
            for status, entry in problem_responses(*implied).items():
                responses.setdefault(str(status), entry)
            for status, response in responses.items():
                if _is_error(status):
                    # FastAPI's own 422 (HTTPValidationError, application/json) is not what
                    # the handlers above answer.
                    response["content"] = _problem_content()
                    if response.get("description") == "Validation Error":
                        response["description"] = _DESCRIPTIONS[422]
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas.update(_problem_schemas())


def document_problems(app: FastAPI, *, body_statuses: Sequence[int] = ()) -> None:
    """`app.openapi()` documents every error answer as problem+json (ProblemDetails), adds the
    statuses any operation can answer (422, 503; 401 where credentials are required;
    `body_statuses` where it takes a body), and drops FastAPI's unused HTTPValidationError."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            _describe_problems(document, body_statuses)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


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
