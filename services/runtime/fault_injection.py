"""Fault-injection points for the fault campaign (`make chaos`, deploy/chaos/): off unless
`FAULT_INJECTION_DIR` is set, which no deployment does.

The campaign asks for a fault by creating a file in that directory; the one process that
removes it first (removal is atomic) suffers the fault, so one file is one fault in one replica.
"""

import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


def relay_crash_trigger(directory: Path, service: str) -> Path:
    """The file that makes one of `service`'s relays die after the broker's acknowledgement."""
    return directory / f"relay-crash-{service}"


def relay_crash_point(
    directory: Path | None, service: str, *, crash: Callable[[], None] | None = None
) -> Callable[[], None]:
    """What the outbox relay calls between the broker's acknowledgement of a batch and the
    deletion of its rows: a SIGKILL of this process when the trigger file is there (the rows
    then stay and are published again: duplicates the consumers' inboxes must absorb)."""
    if directory is None:
        return _nothing
    trigger = relay_crash_trigger(directory, service)
    die = crash or _sigkill_self

    def maybe_crash() -> None:
        try:
            trigger.unlink()
        except FileNotFoundError:
            return
        log.warning("fault injection: SIGKILL after the broker acknowledged, before marking")
        die()

    return maybe_crash


def _nothing() -> None:
    return None


def _sigkill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
