"""The activity service process: `python -m services.activity.app`."""

from pathlib import Path

from services.activity import handlers
from services.activity.config import ActivitySettings
from services.activity.models import metadata
from services.activity.router import router
from services.contracts import topics
from services.contracts.activity import (
    DeviceLimitChangedV1,
    DeviceRegisteredV1,
    DeviceRejectedV1,
    DeviceUnboundV1,
)
from services.contracts.apps import DeviceLogoutV1
from services.runtime.service_app import ServiceSpec, run

SPEC = ServiceSpec(
    name="activity",
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    router=router,
    register_handlers=handlers.register,
    settings=ActivitySettings,
    publishes=[
        (topics.ACTIVITY_EVENTS, DeviceLimitChangedV1),
        (topics.ACTIVITY_EVENTS, DeviceRegisteredV1),
        (topics.ACTIVITY_EVENTS, DeviceRejectedV1),
        (topics.ACTIVITY_EVENTS, DeviceUnboundV1),
        (topics.APPS_COMMANDS, DeviceLogoutV1),
    ],
)


if __name__ == "__main__":
    run(SPEC)
