"""Keeps `make run`'s processes up: one that exits unexpectedly is started again (with a back-off
that grows while it keeps crashing) instead of taking the whole system down with it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class Supervised(Protocol):
    """What the supervisor needs of a process: its name, whether it runs, how to start it again
    (returning once it is ready, raising if it cannot get there)."""

    @property
    def name(self) -> str: ...

    def alive(self) -> bool: ...

    def exit_code(self) -> int | None: ...

    def restart(self) -> None: ...


# A process that stayed up this long is healthy again: its next crash starts the back-off anew.
STABLE_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 30.0


def backoff_seconds(crashes: int) -> float:
    """1, 2, 4, ... seconds before the next start, at most MAX_BACKOFF_SECONDS."""
    return float(min(MAX_BACKOFF_SECONDS, 2 ** max(0, crashes - 1)))


@dataclass
class _State:
    crashes: int = 0
    started_at: float = 0.0
    next_start_at: float | None = None
    restarting: bool = False


@dataclass
class Supervisor:
    """Call `check()` every second or so; restarts run in threads so one slow start does not
    hold up the others (or Ctrl-C)."""

    processes: Sequence[Supervised]
    say: Callable[[str], None] = print
    clock: Callable[[], float] = time.monotonic
    restarts: dict[str, int] = field(default_factory=dict)
    _states: dict[str, _State] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        now = self.clock()
        for process in self.processes:
            self._states[process.name] = _State(started_at=now)
            self.restarts[process.name] = 0

    def check(self) -> None:
        now = self.clock()
        for process in self.processes:
            with self._lock:
                state = self._states[process.name]
                if state.restarting or process.alive():
                    continue
                if state.next_start_at is None:
                    if now - state.started_at >= STABLE_SECONDS:
                        state.crashes = 0
                    state.crashes += 1
                    delay = backoff_seconds(state.crashes)
                    state.next_start_at = now + delay
                    self.say(
                        f"{process.name} stopped unexpectedly (exit code {process.exit_code()}); "
                        f"starting it again in {delay:.0f} s"
                    )
                if now < state.next_start_at:
                    continue
                state.restarting = True
            threading.Thread(
                target=self._restart, args=(process,), name=f"restart-{process.name}", daemon=True
            ).start()

    def _restart(self, process: Supervised) -> None:
        try:
            process.restart()
        except Exception as error:
            self.say(f"{process.name} did not come back: {error}".splitlines()[0])
            ready = False
        else:
            ready = True
        with self._lock:
            state = self._states[process.name]
            state.restarting = False
            state.next_start_at = None
            state.started_at = self.clock()
            if ready:
                self.restarts[process.name] += 1
                self.say(f"{process.name} is ready again")

    def busy(self) -> bool:
        """True while a restart is under way."""
        with self._lock:
            return any(state.restarting for state in self._states.values())
