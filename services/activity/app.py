"""The activity service process: `python -m services.activity.app`."""

from pathlib import Path

from services.activity import handlers
from services.activity.config import ActivitySettings
from services.activity.models import metadata
from services.activity.profiles import HeldReportSweeper
from services.activity.router import router
from services.contracts import topics
from services.contracts.activity import (
    DeviceLimitChangedV1,
    DeviceRegisteredV1,
    DeviceRejectedV1,
    DeviceUnboundV1,
)
from services.contracts.apps import (
    DeviceLogoutV1,
    FavoriteRemoveV1,
    RecordingDeleteV1,
    WatchlistRemoveV1,
)
from services.runtime.service_app import Runtime, ServiceSpec, run

# Each instance dead-letters the app reports held too long for a profile never announced; with
# several replicas the rows are shared out by SKIP LOCKED.
_sweepers: dict[int, HeldReportSweeper] = {}


def start_sweeper(rt: Runtime) -> None:
    grace = rt.settings_as(ActivitySettings).unknown_profile_grace_seconds
    sweeper = HeldReportSweeper(rt.db, rt.consumer, grace_seconds=grace)
    sweeper.start()
    _sweepers[id(rt)] = sweeper


async def stop_sweeper(rt: Runtime) -> None:
    sweeper = _sweepers.pop(id(rt), None)
    if sweeper is not None:
        await sweeper.stop()


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
        (topics.APPS_COMMANDS, FavoriteRemoveV1),
        (topics.APPS_COMMANDS, WatchlistRemoveV1),
        (topics.APPS_COMMANDS, RecordingDeleteV1),
    ],
    on_started=start_sweeper,
    on_stopping=stop_sweeper,
)


if __name__ == "__main__":
    run(SPEC)
