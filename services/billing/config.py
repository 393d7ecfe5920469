"""Settings of the billing service: the runtime's under billing's variable names, the expiry
scheduler's, and whether to seed the demo catalog."""

from typing import ClassVar

from pydantic import AliasChoices, Field

from services.billing.scheduler import SchedulerSettings
from services.runtime.settings import ConsumerWorkers, Port, ServiceSettings


class BillingSettings(ServiceSettings):
    service_name: ClassVar[str] = "billing"

    database_url: str = Field("", validation_alias="BILLING_DATABASE_URL")
    host: str = Field("127.0.0.1", validation_alias="BILLING_HOST")
    port: Port = Field(8102, validation_alias="BILLING_PORT")
    consumer_workers: ConsumerWorkers = Field(
        3, validation_alias=AliasChoices("BILLING_CONSUMER_WORKERS", "CONSUMER_WORKERS")
    )
    scheduler_interval_seconds: float = Field(
        60.0, gt=0, validation_alias="BILLING_SCHEDULER_INTERVAL_SECONDS"
    )
    expiring_days: int = Field(7, ge=0, le=365, validation_alias="BILLING_EXPIRING_DAYS")
    # Due rows claimed and applied per transaction (month end: thousands due at once).
    scheduler_batch_size: int = Field(
        500, ge=1, le=5000, validation_alias="BILLING_SCHEDULER_BATCH_SIZE"
    )
    # Replicas starting together seed it once (see demo_catalog.seed_if_empty).
    seed_demo_catalog: bool = Field(False, validation_alias="SEED_DEMO_CATALOG")

    @property
    def scheduler(self) -> SchedulerSettings:
        return SchedulerSettings(
            interval_seconds=self.scheduler_interval_seconds,
            expiring_days=self.expiring_days,
            batch_size=self.scheduler_batch_size,
        )
