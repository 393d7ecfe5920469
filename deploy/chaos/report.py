"""The campaign's results as Markdown: the table of docs/reliability.md (scenario, faults
injected, workload, the checker's counts beside the targets, time to recover), written between
two markers so the prose around it stays as it is written."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from deploy.chaos.history import Entry

START_MARKER: Final = "<!-- chaos:results:start -->"
END_MARKER: Final = "<!-- chaos:results:end -->"

FAULT_NAMES: Final = {
    "kill_process": "SIGKILL of a service or gateway replica (restarted after 1-4 s)",
    "kill_relay": "SIGKILL of a relay between the broker's ack and the outbox mark",
    "broker_kill": "SIGKILL of a broker (restarted on its data)",
    "broker_pause": "SIGSTOP of a broker, SIGCONT after 6-12 s",
    "postgres_stop": "PostgreSQL stopped (`pg_ctl stop -m immediate`), started after 10 s",
    "scale_group": "a consumer group scaled 1 -> 3 -> 1 with SIGKILLs",
    "poison": "a flood of poison records (malformed, schema-violating, oversized)",
}

COUNT_ROWS: Final = (
    ("lost_orders", "acknowledged orders lost (no single reply, or an effect missing)", "0"),
    ("lost_operator_writes", "acknowledged operator writes lost", "0"),
    ("lost_app_events", "acknowledged app events missing from apps.events", "0"),
    ("poison_not_dead_lettered", "poison records not in a dead-letter topic", "0"),
    ("duplicate_effects", "duplicate effects (replies, ledger rows, customers, messages)", "0"),
    ("order_inversions", "per-key order inversions on the topics", "0"),
    ("duplicates_on_topics", "duplicate records on the topics (at least once: allowed)", "counted"),
    ("outbox_rows_left", "outbox rows left unpublished", "0"),
    ("dlq_without_reason", "dead letters without an `x-dlq-reason` header", "0"),
    ("unexpected_exits", "processes that died unasked (restarted by the campaign)", "counted"),
    ("recovery_seconds", "seconds from the last fault's end to lag 0 and empty outboxes", "<= 60"),
)


def faults_injected(history: Iterable[Entry]) -> dict[str, Counter[str]]:
    """Per fault kind: how many started, and the outcomes of those that ended."""
    injected: dict[str, Counter[str]] = {}
    for entry in history:
        if entry["process"] != "nemesis" or entry["f"] in ("heal", "crashed", "restarted"):
            continue
        tally = injected.setdefault(entry["f"], Counter())
        if entry["type"] == "start":
            tally["started"] += 1
        elif entry["type"] == "stop":
            tally[str(entry.get("outcome", "done"))] += 1
    return injected


def fault_seconds(history: Iterable[Entry]) -> dict[str, list[float]]:
    """Per fault kind, how long each took from injection until all was whole again."""
    seconds: dict[str, list[float]] = {}
    for entry in history:
        if entry["process"] == "nemesis" and entry["type"] == "stop" and "seconds" in entry:
            seconds.setdefault(entry["f"], []).append(float(entry["seconds"]))
    return seconds


def _faults_cell(
    injected: Mapping[str, Counter[str]], seconds: Mapping[str, list[float]]
) -> list[str]:
    lines = []
    for kind, name in FAULT_NAMES.items():
        tally = injected.get(kind)
        if not tally:
            continue
        took = sorted(seconds.get(kind, []))
        span = f"{took[len(took) // 2]:.0f} / {took[-1]:.0f}" if took else "-"
        outcomes = ", ".join(
            f"{n} {what}" for what, n in sorted(tally.items()) if what != "started"
        )
        lines.append(f"| {name} | {tally['started']} | {outcomes} | {span} |")
    return lines


def postgres_outages(history: list[Entry]) -> list[str]:
    """One sentence per PostgreSQL stop: what the operators' writes sent meanwhile got, how
    they ended, and whether a running process died (it must recover without a restart)."""
    sentences = []
    starts = [e for e in history if e["f"] == "postgres_stop" and e["type"] == "start"]
    stops = [e for e in history if e["f"] == "postgres_stop" and e["type"] == "stop"]
    for start, stop in zip(starts, stops, strict=False):
        began, ended = start["time"], stop["time"]
        invoked = {
            e["key"]: e["time"]
            for e in history
            if e["type"] == "invoke"
            and e["process"].startswith("operator")
            and began <= e["time"] <= ended
        }
        answers: Counter[str] = Counter()
        outcomes: Counter[str] = Counter()
        done_after: list[float] = []
        for e in history:
            if e.get("key") in invoked and e["type"] in ("ok", "fail", "info"):
                outcomes[e["type"]] += 1
                answers.update(e.get("retried_on", []))
                if e["type"] == "ok":
                    done_after.append(e["time"] - ended)
        died = sorted(
            e["target"] for e in history if e["f"] == "crashed" and began <= e["time"] <= ended + 30
        )
        got = ", ".join(f"{n} x {what}" for what, n in answers.most_common()) or "no error"
        latest = f"{max(done_after):.0f} s" if done_after else "-"
        writes = (
            f"{len(invoked)} operator writes sent meanwhile; their attempts were answered "
            f"{got}; outcomes {dict(outcomes)}, the last acknowledged {latest} after it was back"
            if invoked
            else "no operator write was started meanwhile "
            "(each operator was still on an earlier one)"
        )
        sentences.append(
            f"PostgreSQL down {ended - began:.0f} s: {writes}; processes that died unasked "
            f"meanwhile: {', '.join(died) or 'none'}."
        )
    return sentences


def render(report: Mapping[str, Any], history: list[Entry], meta: Mapping[str, Any]) -> str:
    counts = report["counts"]
    sizes = report["workload"]
    lines = [
        START_MARKER,
        f"Run of `{meta['command']}` on {meta['started']}: seed {meta['seed']}, "
        f"{meta['duration']:.0f} s of faults, {meta['wall_seconds']:.0f} s wall time in all "
        f"(cluster start and check included). Machine: {meta['cpus']} cores shared with other "
        f"work, load average {meta['load_before']} before and {meta['load_after']} after.",
        "",
        f"**Verdict: {'all targets met' if report['passed'] else 'targets MISSED'}.**",
        "",
        "| fault injected | count | outcome | seconds until whole again (median / max) |",
        "|---|---|---|---|",
        *_faults_cell(faults_injected(history), fault_seconds(history)),
        "",
        "| workload | acknowledged | unknown outcome | refused |",
        "|---|---|---|---|",
        f"| webshop orders ({sizes.get('orders_renewals', 0)} of them renewals) | "
        f"{sizes.get('orders_acknowledged', 0)} | {sizes.get('orders_unknown', 0)} | - |",
    ]
    for f in ("create", "renew", "change"):
        lines.append(
            f"| operator {f} (both gateways) | {sizes.get(f'operator_{f}_ok', 0)} | "
            f"{sizes.get(f'operator_{f}_info', 0)} | {sizes.get(f'operator_{f}_fail', 0)} |"
        )
    lines += [
        f"| app events | {sizes.get('app_events_acknowledged', 0)} | - | - |",
        f"| poison records | {sizes.get('poison_records', 0)} | - | - |",
        "",
        *(f"{sentence}\n" for sentence in postgres_outages(history)),
        "| check | count | target | met |",
        "|---|---|---|---|",
    ]
    for name, label, target in COUNT_ROWS:
        value = counts.get(name)
        shown = "not reached" if value is None else value
        if name == "recovery_seconds":
            mark = "yes" if report["met"]["recovery_seconds"] else "**no**"
        elif target == "0":
            mark = "yes" if value == 0 else "**no**"
        else:
            mark = "-"
        lines.append(f"| {label} | {shown} | {target} | {mark} |")
    lines.append(END_MARKER)
    return "\n".join(lines) + "\n"


def update_docs(path: Path, section: str) -> None:
    """Replace the results between the markers of `path` (appended if it has none)."""
    text = path.read_text() if path.exists() else ""
    if START_MARKER in text and END_MARKER in text:
        head, rest = text.split(START_MARKER, 1)
        _, tail = rest.split(END_MARKER, 1)
        text = head + section.rstrip("\n") + tail
    else:
        text = text + ("\n" if text else "") + section
    path.write_text(text)
