"""Every shape the gateway repeats from a service has the service's fields: the clients list
each pair (MIRRORS), and a field renamed, added or removed on one side fails here, before any
route test runs against the real service. (Whether a field may be left out is each side's own
business: the gateway reads some answers more leniently than the service writes them.)"""

import pytest
from pydantic import BaseModel

from gateway.clients import activity, billing, customers, tickets

PAIRS = [
    pytest.param(mine, theirs, id=f"{mine.__name__}={theirs.__module__}.{theirs.__name__}")
    for module in (customers, billing, tickets, activity)
    for mine, theirs in module.MIRRORS.items()
]


def fields(model: type[BaseModel]) -> set[str]:
    """The field names as they travel (by alias)."""
    return {
        info.serialization_alias or info.alias or name for name, info in model.model_fields.items()
    }


@pytest.mark.parametrize(("mine", "theirs"), PAIRS)
def test_the_gateway_repeats_the_service_shape(
    mine: type[BaseModel], theirs: type[BaseModel]
) -> None:
    assert fields(mine) == fields(theirs)


@pytest.mark.parametrize(
    ("mine", "theirs", "added"),
    [
        pytest.param(mine, *theirs, id=mine.__name__)
        for module in (billing, tickets)
        for mine, theirs in module.WRITES.items()
    ],
)
def test_a_write_the_gateway_completes_has_the_service_fields(
    mine: type[BaseModel], theirs: type[BaseModel], added: str
) -> None:
    assert fields(mine) | {added} == fields(theirs)
