"""The customers service process: `python -m services.customers.app`."""

from pathlib import Path

from services.contracts import topics
from services.contracts.customers import CustomerCreatedV1, CustomerOrderPlacedV1
from services.contracts.webshop import OrderAcceptedV1, OrderRejectedV1
from services.customers import handlers
from services.customers.models import metadata
from services.customers.router import router
from services.runtime.service_app import ServiceSpec, run

SPEC = ServiceSpec(
    name="customers",
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    router=router,
    register_handlers=handlers.register,
    publishes=[
        (topics.CUSTOMERS_EVENTS, CustomerCreatedV1),
        (topics.CUSTOMERS_EVENTS, CustomerOrderPlacedV1),
        (topics.WEBSHOP_REPLIES, OrderAcceptedV1),
        (topics.WEBSHOP_REPLIES, OrderRejectedV1),
    ],
)


if __name__ == "__main__":
    run(SPEC)
