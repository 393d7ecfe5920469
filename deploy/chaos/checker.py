"""Reads a campaign back after its last fault and counts what went wrong, in the words of
Kafka's system tests and Jepsen. Usable alone on a run directory whose cluster still runs:

    python -m deploy.chaos.checker .run/chaos [--wait 180]

It takes what was *acknowledged* from the history (history.jsonl), then reads every topic from
the beginning (every partition, read_committed), the services' tables (PostgreSQL) and the
gateway's API, and reports:

- lost: an acknowledged order without exactly one reply on webshop.replies or without its
  effects (the buyer's customer, a subscription, a ledger entry for the order); an operator's
  acknowledged sale that the API does not show, or fewer ledger charges than acknowledged
  writes; an acknowledged app event or poison record missing from its topic or dead letters;
- duplicate effects: two replies to one order, two ledger rows of one kind for one order, two
  customers for one buyer (or one operator's e-mail), more charges than writes that may have
  happened, two messages for one occasion;
- duplicates on topics: a record whose CloudEvent (source, id) came before on that topic (at
  least once delivery: allowed, counted);
- order inversions: one key's events out of their causal order on a topic;
- outbox rows left unpublished, dead letters without an x-dlq-reason header;
- recovery: seconds from the end of the last fault until every consumer group's lag is 0 and
  every outbox is empty.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx
from aiokafka import TopicPartition

from deploy.chaos.history import Entry, read_history
from deploy.chaos.kafka_clients import KafkaClients
from deploy.chaos.workload import EMAIL_DOMAIN
from deploy.local.processes import SERVICES
from services.contracts.topics import (
    APPS_EVENTS,
    BILLING_EVENTS,
    CUSTOMERS_EVENTS,
    MAIN_TOPICS,
    WEBSHOP_REPLIES,
    dlq,
)

CLUSTER_FILE: Final = "cluster.json"
REPORT_FILE: Final = "report.json"
RECOVERY_TARGET_SECONDS: Final = 60.0
# Examples kept per finding in the report: enough to start looking, not a dump.
EXAMPLES: Final = 10


@dataclass(frozen=True)
class ClusterInfo:
    """Where the campaign's cluster is: written by the campaign, read by the checker."""

    bootstrap_servers: str
    gateways: dict[str, str]
    databases: dict[str, str]
    admin: tuple[str, str]
    # The Kafka admin user's aiokafka keywords (a throwaway cluster's credentials).
    kafka_options: dict[str, Any] = field(default_factory=dict)

    @property
    def kafka(self) -> KafkaClients:
        return KafkaClients(self.bootstrap_servers, self.kafka_options)

    def save(self, run_dir: Path) -> None:
        data = {
            "bootstrap_servers": self.bootstrap_servers,
            "gateways": self.gateways,
            "databases": self.databases,
            "admin": list(self.admin),
            "kafka_options": self.kafka_options,
        }
        path = run_dir / CLUSTER_FILE
        path.touch(mode=0o600)  # it holds the run's passwords
        path.write_text(json.dumps(data, indent=2))

    @classmethod
    def load(cls, run_dir: Path) -> ClusterInfo:
        data = json.loads((run_dir / CLUSTER_FILE).read_text())
        username, password = data["admin"]
        return cls(
            data["bootstrap_servers"],
            data["gateways"],
            data["databases"],
            (username, password),
            data.get("kafka_options", {}),
        )


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes | None
    headers: dict[str, str]

    def event(self) -> dict[str, Any] | None:
        try:
            parsed = json.loads(self.value or b"")
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None


@dataclass
class Findings:
    """Counts and a few examples of each."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))

    def add(self, name: str, example: Any = None, count: int = 1) -> None:
        self.counts[name] += count
        if example is not None and len(self.examples[name]) < EXAMPLES:
            self.examples[name].append(example)

    def zero(self, *names: str) -> None:
        for name in names:
            self.counts[name] += 0


# ---- reading back -------------------------------------------------------------------------


async def partitions_of(kafka: KafkaClients, topics: Iterable[str]) -> dict[str, list[int]]:
    """Every partition of each topic, as the cluster's metadata lists them."""
    admin = kafka.admin()
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return {
        str(t["topic"]): sorted(int(p["partition"]) for p in t["partitions"]) for t in described
    }


async def read_topic(kafka: KafkaClients, topic: str, timeout: float = 120.0) -> list[Record]:
    """Every committed record of `topic`, every partition from the beginning."""
    consumer = kafka.reader(max_partition_fetch_bytes=2 * 1024 * 1024)
    await consumer.start()
    records: list[Record] = []
    try:
        partitions = (await partitions_of(kafka, [topic])).get(topic, [])
        assigned = [TopicPartition(topic, p) for p in partitions]
        if not assigned:
            return records
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            positions = [await consumer.position(tp) for tp in assigned]
            if all(at >= ends[tp] for at, tp in zip(positions, assigned, strict=True)):
                break
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, batch in batches.items():
                for r in batch:
                    if r.offset >= ends[tp]:
                        continue
                    records.append(
                        Record(
                            topic,
                            r.partition,
                            r.offset,
                            r.key.decode(errors="replace") if r.key is not None else None,
                            r.value,
                            {k: v.decode(errors="replace") for k, v in r.headers or ()},
                        )
                    )
        else:
            raise TimeoutError(f"could not read {topic} to its end in {timeout:.0f} s")
    finally:
        await consumer.stop()
    records.sort(key=lambda r: (r.partition, r.offset))
    return records


async def consumer_lag(kafka: KafkaClients, groups: Iterable[str] = SERVICES) -> dict[str, int]:
    """Each group's lag: committed offsets behind the end of every partition it committed on
    (its topics all carry traffic in a campaign, so each has committed on all of them)."""
    admin = kafka.admin()
    consumer = kafka.reader()
    await admin.start()
    await consumer.start()
    try:
        lag: dict[str, int] = {}
        for group in groups:
            committed = await admin.list_consumer_group_offsets(group)
            topics = await partitions_of(kafka, {tp.topic for tp in committed})
            partitions = [TopicPartition(t, p) for t, ps in sorted(topics.items()) for p in ps]
            ends = await consumer.end_offsets(partitions) if partitions else {}
            lag[group] = sum(
                max(0, ends[tp] - (committed[tp].offset if tp in committed else 0))
                for tp in partitions
            )
        return lag
    finally:
        await consumer.stop()
        await admin.close()


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def query(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(_dsn(url), timeout=10)
    try:
        rows: list[asyncpg.Record] = await connection.fetch(sql, *args)
        return rows
    finally:
        await connection.close()


async def outbox_rows(databases: Mapping[str, str]) -> dict[str, int]:
    counts = {}
    for service in SERVICES:
        [row] = await query(databases[service], "SELECT count(*) AS n FROM outbox")
        counts[service] = int(row["n"])
    return counts


async def wait_until_quiet(
    info: ClusterInfo, since: float, timeout: float
) -> tuple[float | None, dict[str, Any]]:
    """Seconds from `since` (epoch) until every group's lag is 0 and every outbox is empty,
    seen twice a second apart; None if not within `timeout` s. Also the last figures seen."""
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            lag = await consumer_lag(info.kafka)
            outbox = await outbox_rows(info.databases)
            last = {"lag": lag, "outbox": outbox}
            quiet = not any(lag.values()) and not any(outbox.values())
        except Exception as error:  # a broker or the database still coming back
            last = {"error": repr(error)}
            quiet = False
        now = time.time()
        if quiet:
            if quiet_since is None:
                quiet_since = now
            else:
                return max(0.0, quiet_since - since), last
        else:
            quiet_since = None
        await asyncio.sleep(1.0)
    return None, last


# ---- the checks ---------------------------------------------------------------------------


def first_occurrences(records: Iterable[Record]) -> tuple[list[tuple[Record, dict[str, Any]]], int]:
    """Each CloudEvent once, at its first offset (per partition order); and how many records
    repeated one seen before (duplicates on the topic)."""
    seen: set[tuple[str, str]] = set()
    firsts = []
    duplicates = 0
    for record in records:
        event = record.event()
        if event is None or "id" not in event:
            continue
        identity = (str(event.get("source")), str(event["id"]))
        if identity in seen:
            duplicates += 1
            continue
        seen.add(identity)
        firsts.append((record, event))
    return firsts, duplicates


def _at(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def check_topic_order(
    findings: Findings,
    topics: Mapping[str, list[Record]],
    sent_order: Mapping[str, Mapping[str, list[str]]],
) -> None:
    """Per-key causal order: a subscription's expiry never goes back (the workload only renews
    and books changes for the expiry), a customer's first event is its creation, and what a
    producer sent on one key (acknowledged one after the other) is read in that order."""
    findings.zero("order_inversions")
    expiries: dict[str, datetime] = {}
    firsts, _ = first_occurrences(topics[BILLING_EVENTS])
    for record, event in firsts:
        if event.get("type") != "subscription.activated.v1" or record.key is None:
            continue
        expires_at = _at((event.get("data") or {}).get("expires_at"))
        if expires_at is None:
            continue
        before = expiries.get(record.key)
        if before is not None and expires_at < before:
            findings.add(
                "order_inversions",
                {
                    "topic": BILLING_EVENTS,
                    "key": record.key,
                    "offset": f"{record.partition}@{record.offset}",
                    "expires_at": str(expires_at),
                    "after": str(before),
                },
            )
        expiries[record.key] = max(expires_at, before or expires_at)
    created: dict[str, bool] = {}
    firsts, _ = first_occurrences(topics[CUSTOMERS_EVENTS])
    keys_with_created = {
        r.key for r, e in firsts if e.get("type") == "customer.created.v1" and r.key is not None
    }
    for record, event in firsts:
        if record.key not in keys_with_created or record.key is None:
            continue
        if record.key not in created:
            created[record.key] = event.get("type") == "customer.created.v1"
            if not created[record.key]:
                findings.add(
                    "order_inversions",
                    {"topic": CUSTOMERS_EVENTS, "key": record.key, "first": event.get("type")},
                )
    for topic, per_key in sent_order.items():
        firsts, _ = first_occurrences(topics[topic])
        position = {str(e["id"]): n for n, (_r, e) in enumerate(firsts)}
        for key, ids in per_key.items():
            read = [position[i] for i in ids if i in position]
            for earlier, later in itertools.pairwise(read):
                if later < earlier:
                    findings.add("order_inversions", {"topic": topic, "key": key})


def _operations(history: list[Entry], f: str, process_prefix: str) -> dict[str, Entry]:
    """The outcome (ok/fail/info) of each operation `f`, by its key or order id."""
    outcomes: dict[str, Entry] = {}
    for entry in history:
        if entry["f"] != f or not entry["process"].startswith(process_prefix):
            continue
        if entry["type"] in ("ok", "fail", "info"):
            identity = entry.get("key") or entry.get("order_id") or entry.get("event_id")
            outcomes[str(identity)] = entry
    return outcomes


async def check_orders(
    findings: Findings, history: list[Entry], topics: Mapping[str, list[Record]], info: ClusterInfo
) -> dict[str, int]:
    orders = _operations(history, "order", "webshop")
    acked = {k: e for k, e in orders.items() if e["type"] == "ok"}
    findings.zero("lost_orders", "duplicate_effects")
    replies: dict[str, set[str]] = defaultdict(set)
    outcome: dict[str, str] = {}
    firsts, _ = first_occurrences(topics[WEBSHOP_REPLIES])
    for _record, event in firsts:
        order_id = str((event.get("data") or {}).get("order_id"))
        replies[order_id].add(str(event["id"]))
        outcome[order_id] = str(event.get("type"))
    buyers = sorted({str(e["buyer"]) for e in acked.values()})
    customers = await query(
        info.databases["customers"],
        "SELECT external_id, id FROM customer WHERE webshop_id = 'shop-eu' "
        "AND external_id = ANY($1::text[])",
        buyers,
    )
    customers_of: dict[str, list[str]] = defaultdict(list)
    for row in customers:
        customers_of[row["external_id"]].append(row["id"])
    ledger = await query(
        info.databases["billing"],
        "SELECT order_id, kind, count(*) AS n FROM ledger_transaction "
        "WHERE order_id = ANY($1::text[]) GROUP BY order_id, kind",
        sorted(acked),
    )
    entries: dict[str, int] = defaultdict(int)
    for row in ledger:
        entries[row["order_id"]] += int(row["n"])
        if row["n"] > 1:
            findings.add(
                "duplicate_effects",
                {
                    "what": "ledger rows of one order",
                    "order_id": row["order_id"],
                    "kind": row["kind"],
                    "rows": row["n"],
                },
            )
    subscribed = {
        row["customer_id"]
        for row in await query(
            info.databases["billing"],
            "SELECT customer_id FROM subscription WHERE customer_id = ANY($1::text[])",
            [c for ids in customers_of.values() for c in ids],
        )
    }
    for buyer, ids in customers_of.items():
        if len(ids) > 1:
            findings.add(
                "duplicate_effects", {"what": "customers of one buyer", "buyer": buyer, "ids": ids}
            )
    for order_id, entry in sorted(acked.items()):
        missing = []
        if len(replies.get(order_id, ())) == 0:
            missing.append("reply")
        elif outcome.get(order_id) != "order.accepted.v1":
            missing.append(f"accepted (got {outcome.get(order_id)})")
        ids = customers_of.get(str(entry["buyer"]), [])
        if not ids:
            missing.append("customer")
        elif not any(i in subscribed for i in ids):
            missing.append("subscription")
        if entries.get(order_id, 0) == 0:
            missing.append("ledger entry")
        if missing:
            findings.add("lost_orders", {"order_id": order_id, "missing": missing})
        if len(replies.get(order_id, ())) > 1:
            findings.add(
                "duplicate_effects",
                {
                    "what": "replies to one order",
                    "order_id": order_id,
                    "replies": len(replies[order_id]),
                },
            )
    return {
        "orders_acknowledged": len(acked),
        "orders_unknown": sum(1 for e in orders.values() if e["type"] == "info"),
        "orders_renewals": sum(1 for e in acked.values() if e.get("kind") == "renewal"),
    }


async def _signed_in(http: httpx.AsyncClient, info: ClusterInfo) -> dict[str, str]:
    username, password = info.admin
    for _attempt in range(30):
        for gateway in info.gateways.values():
            try:
                response = await http.post(
                    f"{gateway}/api/v1/auth/token",
                    data={"username": username, "password": password},
                )
            except httpx.HTTPError:
                continue
            if response.status_code == 200:
                return {"Authorization": f"Bearer {response.json()['access_token']}"}
        await asyncio.sleep(2)
    raise RuntimeError("no gateway signs the admin in")


async def _get(http: httpx.AsyncClient, info: ClusterInfo, path: str) -> httpx.Response:
    """GET through gateway a, else b; a 5xx or no answer is asked again a few times."""
    last: httpx.Response | None = None
    for _attempt in range(5):
        for gateway in info.gateways.values():
            try:
                last = await http.get(f"{gateway}/api/v1{path}")
            except httpx.HTTPError:
                continue
            if last.status_code < 500:
                return last
        await asyncio.sleep(1)
    if last is None:
        raise RuntimeError(f"no gateway answers GET {path}")
    return last


async def check_operators(
    findings: Findings, history: list[Entry], info: ClusterInfo
) -> dict[str, int]:
    """Every acknowledged sale is a customer with a subscription in the API; each customer's
    ledger holds at least one charge per acknowledged write and at most one per write that
    may have happened (acknowledged or unknown)."""
    findings.zero("lost_operator_writes")
    writes: dict[str, Counter[str]] = defaultdict(Counter)
    created: list[str] = []
    totals: Counter[str] = Counter()
    for f in ("create", "renew", "change"):
        for entry in _operations(history, f, "operator").values():
            totals[f"{f}_{entry['type']}"] += 1
            customer_id = entry.get("customer_id")
            if not customer_id:
                continue
            writes[str(customer_id)][entry["type"]] += 1
            if f == "create" and entry["type"] == "ok":
                created.append(str(customer_id))
    async with httpx.AsyncClient(timeout=20.0) as http:
        http.headers.update(await _signed_in(http, info))
        for customer_id in created:
            details = await _get(http, info, f"/customers/{customer_id}")
            if details.status_code != 200 or not (details.json().get("subscription") or {}):
                findings.add(
                    "lost_operator_writes",
                    {"customer_id": customer_id, "what": "sale", "status": details.status_code},
                )
                continue
            charges = 0
            path = f"/customers/{customer_id}/transactions?limit=100"
            for _page in range(20):
                page = (await _get(http, info, path)).json()
                charges += sum(1 for t in page.get("items", []) if t.get("kind") == "charge")
                cursor = page.get("next_cursor")
                if not cursor:
                    break
                path = f"/customers/{customer_id}/transactions?limit=100&cursor={cursor}"
            counted = writes[customer_id]
            if charges < counted["ok"]:
                findings.add(
                    "lost_operator_writes",
                    {"customer_id": customer_id, "charges": charges, "acknowledged": counted["ok"]},
                )
            if charges > counted["ok"] + counted["info"]:
                findings.add(
                    "duplicate_effects",
                    {
                        "what": "charges beyond the writes",
                        "customer_id": customer_id,
                        "charges": charges,
                        "acknowledged": counted["ok"],
                        "unknown": counted["info"],
                    },
                )
    for row in await query(
        info.databases["customers"],
        "SELECT email, count(*) AS n FROM customer WHERE email LIKE $1 "
        "AND external_id IS NULL GROUP BY email HAVING count(*) > 1",
        f"op-%@{EMAIL_DOMAIN}",
    ):
        findings.add(
            "duplicate_effects",
            {"what": "customers of one operator sale", "email": row["email"], "rows": row["n"]},
        )
    return {"operator_" + name: count for name, count in sorted(totals.items())}


async def check_messages(findings: Findings, info: ClusterInfo) -> None:
    for row in await query(
        info.databases["tickets"],
        "SELECT customer_id, template, occasion, count(*) AS n FROM message "
        "WHERE template IS NOT NULL GROUP BY customer_id, template, occasion HAVING count(*) > 1",
    ):
        findings.add(
            "duplicate_effects",
            {
                "what": "messages for one occasion",
                "customer_id": row["customer_id"],
                "template": row["template"],
                "rows": row["n"],
            },
        )


def check_apps_and_poison(
    findings: Findings, history: list[Entry], topics: Mapping[str, list[Record]]
) -> dict[str, int]:
    findings.zero("lost_app_events", "poison_not_dead_lettered", "dlq_without_reason")
    on_topic = {str(e["id"]) for _r, e in first_occurrences(topics[APPS_EVENTS])[0]}
    app_events = [e for e in history if e["f"] == "app_event" and e["type"] == "ok"]
    for entry in app_events:
        if entry["event_id"] not in on_topic:
            findings.add("lost_app_events", entry["event_id"])
    dead: dict[str, set[str]] = defaultdict(set)
    for topic in MAIN_TOPICS:
        for record in topics[dlq(topic)]:
            if not record.headers.get("x-dlq-reason"):
                findings.add(
                    "dlq_without_reason", f"{record.topic}[{record.partition}]@{record.offset}"
                )
            dead[topic].add(record.key or "")
    poison = [e for e in history if e["f"] == "poison" and e["type"] == "ok"]
    for entry in poison:
        if entry["key"] not in dead[entry["topic"]]:
            findings.add("poison_not_dead_lettered", {"topic": entry["topic"], "key": entry["key"]})
    return {
        "app_events_acknowledged": len(app_events),
        "poison_records": len(poison),
        "dead_letters": sum(len(topics[dlq(t)]) for t in MAIN_TOPICS),
    }


def sent_order(history: list[Entry]) -> dict[str, dict[str, list[str]]]:
    """What one producer acknowledged on each key, in order (it waits for each send)."""
    orders: dict[str, dict[str, list[str]]] = {APPS_EVENTS: defaultdict(list)}
    for entry in history:
        if entry["f"] == "app_event" and entry["type"] == "ok":
            orders[APPS_EVENTS][entry["key"]].append(entry["event_id"])
    return orders


# ---- the report ---------------------------------------------------------------------------

TARGETS: Final = {
    "lost": "0 acknowledged orders, operator writes, app events or poison records lost",
    "duplicate_effects": "0",
    "order_inversions": "0",
    "outbox_rows_left": "0",
    "dlq_without_reason": "0",
    "recovery_seconds": f"lag 0 and outboxes empty within {RECOVERY_TARGET_SECONDS:.0f} s",
}


def verdicts(counts: Mapping[str, Any]) -> dict[str, bool]:
    recovery = counts.get("recovery_seconds")
    return {
        "lost": counts["lost_orders"]
        + counts["lost_operator_writes"]
        + counts["lost_app_events"]
        + counts["poison_not_dead_lettered"]
        == 0,
        "duplicate_effects": counts["duplicate_effects"] == 0,
        "order_inversions": counts["order_inversions"] == 0,
        "outbox_rows_left": counts["outbox_rows_left"] == 0,
        "dlq_without_reason": counts["dlq_without_reason"] == 0,
        "recovery_seconds": recovery is not None and recovery <= RECOVERY_TARGET_SECONDS,
    }


def last_fault_end(history: list[Entry]) -> float:
    stops = [e["time"] for e in history if e["process"] == "nemesis" and e["type"] == "stop"]
    times: list[float] = stops or [e["time"] for e in history]
    return max(times)


async def check(run_dir: Path, *, wait: float = 180.0) -> dict[str, Any]:
    """The whole check of a run directory; the report is also written to report.json."""
    info = ClusterInfo.load(run_dir)
    history = list(read_history(run_dir))
    findings = Findings()
    since = last_fault_end(history)
    recovery, last_seen = await wait_until_quiet(info, since, wait)
    topics = {
        topic: await read_topic(info.kafka, topic)
        for topic in (*MAIN_TOPICS, *(dlq(t) for t in MAIN_TOPICS))
    }
    sizes: dict[str, Any] = {}
    sizes.update(await check_orders(findings, history, topics, info))
    sizes.update(await check_operators(findings, history, info))
    sizes.update(check_apps_and_poison(findings, history, topics))
    await check_messages(findings, info)
    check_topic_order(findings, topics, sent_order(history))
    duplicates = {t: first_occurrences(topics[t])[1] for t in MAIN_TOPICS}
    outbox = await outbox_rows(info.databases)
    counts: dict[str, Any] = dict(findings.counts)
    counts["duplicates_on_topics"] = sum(duplicates.values())
    counts["outbox_rows_left"] = sum(outbox.values())
    counts["recovery_seconds"] = None if recovery is None else round(recovery, 1)
    counts["unexpected_exits"] = sum(
        1 for e in history if e["process"] == "nemesis" and e["f"] == "crashed"
    )
    met = verdicts(counts)
    report = {
        "run_dir": str(run_dir),
        "checked_at": time.time(),
        "counts": counts,
        "targets": TARGETS,
        "met": met,
        "passed": all(met.values()),
        "workload": sizes,
        "duplicates_by_topic": duplicates,
        "outbox_by_service": outbox,
        "records_by_topic": {t: len(r) for t, r in topics.items()},
        "quiet_check": last_seen,
        "examples": dict(findings.examples),
    }
    (run_dir / REPORT_FILE).write_text(json.dumps(report, indent=2, default=str))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.chaos.checker", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--wait", type=float, default=180.0, help="bound of the wait for lag 0")
    args = parser.parse_args(argv)
    report = asyncio.run(check(args.run_dir, wait=args.wait))
    print(json.dumps({k: report[k] for k in ("counts", "met", "passed")}, indent=2))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
