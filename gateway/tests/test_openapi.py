"""The OpenAPI document: every operation shows an example of its successful answer."""

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from gateway.schemas.examples import CUSTOMERS_CSV, example_of
from services.customers.listing import CSV_COLUMNS


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def has_example(document: dict[str, Any], media: dict[str, Any]) -> bool:
    if "example" in media or media.get("examples"):
        return True
    schema = resolve(document, media.get("schema", {}))
    return bool(schema.get("examples") or "example" in schema)


async def test_every_operation_has_an_example_of_its_success_answer(app: FastAPI) -> None:
    document = app.openapi()
    missing = []
    operations = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            operations += 1
            for status, response in operation["responses"].items():
                content = response.get("content") or {}
                if not status.startswith("2") or not content:
                    continue  # errors share ProblemDetails; a 204 has no body to show
                for media_type, media in content.items():
                    if not has_example(document, media):
                        missing.append(f"{method.upper()} {path} {status} {media_type}")
    assert operations > 10
    assert missing == []


def _models(base: type[BaseModel]) -> list[type[BaseModel]]:
    found = []
    for sub in base.__subclasses__():
        found.append(sub)
        found.extend(_models(sub))
    return found


async def test_every_example_is_valid_for_its_model(app: FastAPI) -> None:
    """An example is documentation a client copies: it must be something the API accepts or
    answers. (The app fixture has imported every route, so every schema module is loaded.)"""
    checked = 0
    for model in _models(BaseModel):
        if not model.__module__.startswith("gateway.schemas"):
            continue
        if getattr(model, "__pydantic_generic_metadata__", {}).get("parameters"):
            continue  # an unparametrized generic such as Page[T]
        example = example_of(model)
        if example is None:
            continue
        model.model_validate(example)
        checked += 1
    assert checked > 15


def test_the_csv_example_has_the_columns_the_export_writes() -> None:
    rows = [line.split(",") for line in CUSTOMERS_CSV.split("\r\n") if line]
    assert rows[0] == list(CSV_COLUMNS)
    assert all(len(row) == len(CSV_COLUMNS) for row in rows)
