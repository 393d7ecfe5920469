"""The campaign's history: one JSON object per line (`history.jsonl` in the run directory), in
Jepsen's shape. A client operation is an `invoke` followed by `ok` (acknowledged), `fail` (a
definite refusal: it had no effect) or `info` (unknown outcome: it may have had its effect); a
fault is a `start` and a `stop` of the `nemesis` process. The checker needs nothing else."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, Literal

HISTORY_FILE: Final = "history.jsonl"

EntryType = Literal["invoke", "ok", "fail", "info", "start", "stop", "event"]
Entry = dict[str, Any]


class History:
    """Appends entries (from the event loop and from the nemesis's threads alike), each flushed
    at once so that a campaign that is killed still leaves what happened until then."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / HISTORY_FILE
        self._lock = threading.Lock()
        self._file = self.path.open("a", encoding="utf-8")

    def record(self, process: str, type_: EntryType, f: str, **value: Any) -> Entry:
        entry: Entry = {"time": round(time.time(), 3), "process": process, "type": type_, "f": f}
        entry.update(value)
        line = json.dumps(entry, default=str, separators=(",", ":"))
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()
        return entry

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_history(run_dir: Path) -> Iterator[Entry]:
    with (run_dir / HISTORY_FILE).open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)
