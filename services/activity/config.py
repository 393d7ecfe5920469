"""Settings of the activity service beyond the runtime's: the device policy and when a silent
device counts as offline."""

import functools
import os

from pydantic import BaseModel, Field

from services.contracts.billing import DevicePolicy


class ActivitySettings(BaseModel):
    # What a connection beyond the limit does when the product names no policy.
    default_device_policy: DevicePolicy = "reject"
    # A connected device that sent nothing (connect, heartbeat) for this long counts offline.
    device_offline_after_seconds: float = Field(default=90.0, gt=0)
    # How long an app's report for a profile not known yet waits for the customers service to
    # announce the profile before it is dead-lettered (profiles.py).
    unknown_profile_grace_seconds: float = Field(default=600.0, gt=0)


@functools.cache
def activity_settings() -> ActivitySettings:
    """From ACTIVITY_DEFAULT_DEVICE_POLICY, DEVICE_OFFLINE_AFTER and
    ACTIVITY_UNKNOWN_PROFILE_GRACE_SECONDS (seconds); a bad value stops
    the service at start instead of surprising it later."""
    env = os.environ
    return ActivitySettings.model_validate(
        {
            "default_device_policy": env.get("ACTIVITY_DEFAULT_DEVICE_POLICY", "reject"),
            "device_offline_after_seconds": env.get("DEVICE_OFFLINE_AFTER", "90"),
            "unknown_profile_grace_seconds": env.get(
                "ACTIVITY_UNKNOWN_PROFILE_GRACE_SECONDS", "600"
            ),
        }
    )
