"""Settings of the activity service: the runtime's under activity's variable names, the device
policy and when a silent device counts as offline."""

from typing import ClassVar

from pydantic import AliasChoices, Field

from services.contracts.billing import DevicePolicy
from services.runtime.settings import ConsumerWorkers, Port, ServiceSettings


class ActivitySettings(ServiceSettings):
    service_name: ClassVar[str] = "activity"

    database_url: str = Field("", validation_alias="ACTIVITY_DATABASE_URL")
    host: str = Field("127.0.0.1", validation_alias="ACTIVITY_HOST")
    port: Port = Field(8104, validation_alias="ACTIVITY_PORT")
    consumer_workers: ConsumerWorkers = Field(
        3, validation_alias=AliasChoices("ACTIVITY_CONSUMER_WORKERS", "CONSUMER_WORKERS")
    )
    # What a connection beyond the limit does when the product names no policy.
    default_device_policy: DevicePolicy = Field(
        "reject", validation_alias="ACTIVITY_DEFAULT_DEVICE_POLICY"
    )
    # A connected device that sent nothing (connect, heartbeat) for this long counts offline.
    device_offline_after_seconds: float = Field(90.0, gt=0, validation_alias="DEVICE_OFFLINE_AFTER")
    # How long an app's report for a profile not known yet waits for the customers service to
    # announce the profile before it is dead-lettered (profiles.py).
    unknown_profile_grace_seconds: float = Field(
        600.0, gt=0, validation_alias="ACTIVITY_UNKNOWN_PROFILE_GRACE_SECONDS"
    )
