"""Shapes every part of the API shares: the list page, and the error statuses a route documents
(problem+json, written once in the runtime: `problem_responses`)."""

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from gateway.schemas.examples import example_of
from services.runtime import paging
from services.runtime.problems import problem_responses

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


__all__ = ["AUTH_ERRORS", "Page", "problem_responses"]

AUTH_ERRORS = (401, 403)
