"""The billing service process: `python -m services.billing.app`."""

import logging
from pathlib import Path

from services.billing import handlers
from services.billing.config import BillingSettings
from services.billing.demo_catalog import seed_if_empty
from services.billing.models import metadata
from services.billing.router import router
from services.billing.scheduler import ExpiryScheduler
from services.contracts import topics
from services.contracts.billing import (
    SubscriptionActivatedV1,
    SubscriptionCancelledV1,
    SubscriptionExpiredV1,
    SubscriptionExpiringV1,
    SubscriptionRejectedV1,
    TransactionRecordedV1,
)
from services.runtime.service_app import Runtime, ServiceSpec, run

log = logging.getLogger(__name__)


# One scheduler per running service (keyed by its runtime), stopped at shutdown.
_schedulers: dict[int, ExpiryScheduler] = {}


async def on_started(rt: Runtime) -> None:
    settings = rt.settings_as(BillingSettings)
    if settings.seed_demo_catalog:
        async with rt.db.transaction() as session:
            if await seed_if_empty(session):
                log.info("seeded the demo catalog")
    scheduler = ExpiryScheduler(rt.db, rt.outbox, settings.scheduler)
    _schedulers[id(rt)] = scheduler
    scheduler.start()


async def on_stopping(rt: Runtime) -> None:
    scheduler = _schedulers.pop(id(rt), None)
    if scheduler is not None:
        await scheduler.stop()


SPEC = ServiceSpec(
    name="billing",
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    router=router,
    register_handlers=handlers.register,
    settings=BillingSettings,
    publishes=[
        (topics.BILLING_EVENTS, SubscriptionActivatedV1),
        (topics.BILLING_EVENTS, SubscriptionRejectedV1),
        (topics.BILLING_EVENTS, SubscriptionCancelledV1),
        (topics.BILLING_EVENTS, SubscriptionExpiringV1),
        (topics.BILLING_EVENTS, SubscriptionExpiredV1),
        (topics.BILLING_EVENTS, TransactionRecordedV1),
    ],
    on_started=on_started,
    on_stopping=on_stopping,
)


if __name__ == "__main__":
    run(SPEC)
