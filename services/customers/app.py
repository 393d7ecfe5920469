"""The customers service process: `python -m services.customers.app`."""

from pathlib import Path

from fastapi import APIRouter

from services.contracts import topics
from services.contracts.customers import (
    AccountUpdatedV1,
    CustomerCreatedV1,
    CustomerOrderPlacedV1,
    CustomerUpdatedV1,
)
from services.contracts.webshop import OrderAcceptedV1, OrderRejectedV1
from services.customers import account_router, handlers
from services.customers.models import metadata
from services.customers.router import router
from services.runtime.service_app import ServiceSpec, run

api = APIRouter()
api.include_router(router)
api.include_router(account_router.router)

SPEC = ServiceSpec(
    name="customers",
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    router=api,
    register_handlers=handlers.register,
    publishes=[
        (topics.CUSTOMERS_EVENTS, CustomerCreatedV1),
        (topics.CUSTOMERS_EVENTS, CustomerOrderPlacedV1),
        (topics.CUSTOMERS_EVENTS, CustomerUpdatedV1),
        (topics.CUSTOMERS_EVENTS, AccountUpdatedV1),
        (topics.WEBSHOP_REPLIES, OrderAcceptedV1),
        (topics.WEBSHOP_REPLIES, OrderRejectedV1),
    ],
)


if __name__ == "__main__":
    run(SPEC)
