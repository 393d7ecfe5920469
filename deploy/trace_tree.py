"""Reads the spans the processes wrote under `TRACES_DIR` and prints one trace as a tree.

    python -m deploy.trace_tree .run/traces 4bf92f3577b34da6a3ce929d0e0e4736

Each line is a span: its service, its name and its duration, indented under its parent.
"""

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass
class SpanRecord:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str | None
    start: datetime
    end: datetime
    attributes: dict[str, Any] = field(default_factory=dict)
    children: list["SpanRecord"] = field(default_factory=list)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "SpanRecord":
        parent = raw.get("parent_id")
        return cls(
            service=str(raw["resource"]["attributes"].get("service.name", "?")),
            name=str(raw["name"]),
            trace_id=_hex(raw["context"]["trace_id"]),
            span_id=_hex(raw["context"]["span_id"]),
            parent_id=_hex(parent) if parent else None,
            start=datetime.fromisoformat(raw["start_time"]),
            end=datetime.fromisoformat(raw["end_time"]),
            attributes=dict(raw.get("attributes") or {}),
        )

    @property
    def is_query(self) -> bool:
        return self.name == "connect" or "db.system" in self.attributes


def _hex(value: str) -> str:
    return value.removeprefix("0x")


def read_spans(traces_dir: Path) -> list[SpanRecord]:
    spans = []
    for path in sorted(traces_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                spans.append(SpanRecord.from_json(json.loads(line)))
    return spans


def trace_of(spans: Iterable[SpanRecord], trace_id: str) -> list[SpanRecord]:
    """The roots of one trace, each with its children in start order. A span whose parent is
    not among them (the caller's, outside these processes) is a root."""
    members = {s.span_id: s for s in spans if s.trace_id == trace_id}
    for span in members.values():
        span.children = []
    roots: list[SpanRecord] = []
    for span in sorted(members.values(), key=lambda s: s.start):
        parent = members.get(span.parent_id or "")
        (parent.children if parent else roots).append(span)
    return roots


def render(roots: Iterable[SpanRecord], *, skip_queries: bool = True) -> str:
    """The tree as text; database query spans are left out unless asked for (they are many)."""
    lines: list[str] = []

    def walk(span: SpanRecord, depth: int) -> None:
        if skip_queries and span.is_query:
            return
        millis = (span.end - span.start).total_seconds() * 1000
        lines.append(f"{'  ' * depth}{span.service}: {span.name} ({millis:.1f} ms)")
        for child in span.children:
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    print(render(trace_of(read_spans(Path(argv[0])), argv[1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
