"""The customers service process: `python -m services.customers.app`."""

from pathlib import Path

from fastapi import APIRouter

from services.contracts import topics
from services.contracts.apps import ProfileDeleteV1
from services.contracts.customers import (
    AccountUpdatedV1,
    CustomerCreatedV1,
    CustomerErasedV1,
    CustomerOrderPlacedV1,
    CustomerUpdatedV1,
    ProfileCreatedV1,
    ProfileDeletedV1,
)
from services.contracts.webshop import OrderAcceptedV1, OrderRejectedV1
from services.customers import credentials, handlers
from services.customers.account import router as account_router
from services.customers.bulk import router as bulk_router
from services.customers.bulk.service import BatchWorkers
from services.customers.config import CustomersSettings
from services.customers.erasure import router as erasure_router
from services.customers.models import metadata
from services.customers.profiles import router as profiles_router
from services.customers.router import router
from services.customers.stats import router as stats_router
from services.runtime.service_app import Runtime, ServiceSpec, run

api = APIRouter()
api.include_router(router)
api.include_router(account_router.router)
api.include_router(profiles_router.profiles_router)
api.include_router(erasure_router.router)
api.include_router(bulk_router.router)
api.include_router(stats_router.router)

# Bulk-add jobs are worked in the background of each instance, from start to stop; a job left
# unfinished by a crash is picked up again (by this or another instance) when its lease ends.
batch_workers = BatchWorkers()


def started(rt: Runtime) -> None:
    credentials.hash_pool.resize(rt.settings_as(CustomersSettings).hash_workers)
    batch_workers.start(rt.db, rt.outbox, key=id(rt))


async def stopping(rt: Runtime) -> None:
    await batch_workers.stop(key=id(rt))
    credentials.hash_pool.shutdown()


SPEC = ServiceSpec(
    name="customers",
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    router=api,
    register_handlers=handlers.register,
    settings=CustomersSettings,
    publishes=[
        (topics.CUSTOMERS_EVENTS, CustomerCreatedV1),
        (topics.CUSTOMERS_EVENTS, CustomerOrderPlacedV1),
        (topics.CUSTOMERS_EVENTS, CustomerUpdatedV1),
        (topics.CUSTOMERS_EVENTS, AccountUpdatedV1),
        (topics.CUSTOMERS_EVENTS, ProfileCreatedV1),
        (topics.CUSTOMERS_EVENTS, ProfileDeletedV1),
        (topics.CUSTOMERS_EVENTS, CustomerErasedV1),
        (topics.WEBSHOP_REPLIES, OrderAcceptedV1),
        (topics.WEBSHOP_REPLIES, OrderRejectedV1),
        (topics.APPS_COMMANDS, ProfileDeleteV1),
    ],
    on_started=started,
    on_stopping=stopping,
)


if __name__ == "__main__":
    run(SPEC)
