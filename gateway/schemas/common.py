"""Shapes every part of the API shares: the list page and the problem+json error body."""

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from gateway.schemas.examples import example_of
from services.runtime import paging
from services.runtime.problems import PROBLEM_JSON

T = TypeVar("T")


def _page_example(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    """A page's example is one item's example: a list of a shape without one has none."""
    for klass in cls.__mro__:
        args = getattr(klass, "__pydantic_generic_metadata__", {}).get("args", ())
        if args:
            item = example_of(args[0])
            if item is not None:
                schema["examples"] = [{"items": [item], "next_cursor": None}]
            return


class Page(paging.Page[T], Generic[T]):
    """One page of a list; pass `next_cursor` back as `cursor` for the next, null at the end."""

    model_config = ConfigDict(json_schema_extra=_page_example)


class FieldError(BaseModel):
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
    errors: list[FieldError] | None = None
    service: str | None = Field(
        default=None, description="The service at fault, on 502/503 answers.", examples=["billing"]
    )


_DESCRIPTIONS = {
    400: "Bad request",
    401: "No valid credentials: sign in at /api/v1/auth/token or send X-API-Key",
    403: "The caller's role lacks the permission",
    404: "Not found",
    409: "Conflicts with what exists",
    422: "Validation failed (or a cursor this list did not give out); `errors` names each field",
    502: "A service answered wrongly",
    503: "A service is unavailable; `service` names it",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these error statuses, all problem+json."""
    return {
        status: {
            "model": ProblemDetails,
            "description": _DESCRIPTIONS.get(status, "Error"),
            "content": {PROBLEM_JSON: {}},
        }
        for status in statuses
    }


AUTH_ERRORS = (401, 403)
