"""The billing service process: `python -m services.billing.app`."""

import logging
import os
from pathlib import Path

from services.billing import handlers
from services.billing.demo_catalog import seed_if_empty
from services.billing.models import metadata
from services.billing.router import router
from services.contracts import topics
from services.contracts.billing import (
    SubscriptionActivatedV1,
    SubscriptionRejectedV1,
    TransactionRecordedV1,
)
from services.runtime.service_app import Runtime, ServiceSpec, run

log = logging.getLogger(__name__)


async def seed_demo_catalog(rt: Runtime) -> None:
    if os.environ.get("SEED_DEMO_CATALOG", "").lower() not in ("1", "true", "yes"):
        return
    async with rt.db.transaction() as session:
        if await seed_if_empty(session):
            log.info("seeded the demo catalog")


SPEC = ServiceSpec(
    name="billing",
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    router=router,
    register_handlers=handlers.register,
    publishes=[
        (topics.BILLING_EVENTS, SubscriptionActivatedV1),
        (topics.BILLING_EVENTS, SubscriptionRejectedV1),
        (topics.BILLING_EVENTS, TransactionRecordedV1),
    ],
    on_started=seed_demo_catalog,
)


if __name__ == "__main__":
    run(SPEC)
