"""`make bench BENCH=apps`: a fleet of TV apps against the activity service, beside a raw
pipeline on the same broker and database.

A fleet of N customers with 3 devices each (subscriptions and connections set up first, not
timed) sends heartbeats (90%) and favorites, watchlist and recordings (10%) into `apps.events`
as fast as one producer process can; the figure is events per second from the first send until
activity's committed offsets reach the end of the topic (lag 0). The raw pipeline reads the
same mix from a topic of its own: aiokafka getmany, one upsert per record, one database commit
and one offset commit per batch, the same batch size, the same database (SQLite file or a
PostgreSQL database on the same server). Service and raw legs alternate (A/B, B/A, A/B), three
runs; the table gives the median and the spread (min-max) and the CPU milliseconds per event of
the consuming process (from /proc). Writes bench-results/apps.md.

Servers: KAFKA_BOOTSTRAP_SERVERS and BENCH_POSTGRES_URL (an admin URL of an existing server) are
used when set; otherwise a local Kafka and PostgreSQL are started as `make test` does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text

from deploy.local.kafka import REPO_ROOT, free_port
from deploy.local.processes import ServiceProcess, service_processes, start_all, stop_all
from services.runtime.db import create_engine
from tests.bench import harness

DEVICES_PER_CUSTOMER = 3


def _envelope(event_type: str, data: dict[str, Any], subject: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/bench/apps",
        "type": event_type,
        "time": datetime.now(UTC).isoformat(),
        "subject": subject,
        "data": data,
    }


def _customers(count: int, seed: str) -> list[str]:
    return [str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-{seed}-{n}")) for n in range(count)]


Events = list[tuple[str, bytes]]


def setup_events(customers: list[str]) -> tuple[Events, Events, Events]:
    """A usable subscription for every customer (billing.events), its profile announced
    (customers.events: activity keeps saved items for known profiles only) and its devices
    connected."""
    now = datetime.now(UTC)
    subscriptions, profiles, connects = [], [], []
    for customer in customers:
        profile = {
            "customer_id": customer,
            "profile_id": "p-main",
            "name": "Main",
            "kids": False,
            "created_at": now.isoformat(),
        }
        body = _envelope("profile.created.v1", profile, customer)
        profiles.append((customer, json.dumps(body).encode()))
        data: dict[str, Any] = {
            "customer_id": customer,
            "subscription_id": f"sub-{customer}",
            "order_id": None,
            "action": "opened",
            "webshop_id": "shop-eu",
            "product_id": "premium",
            "plan_id": "premium-1m",
            "extra_product_ids": [],
            "status": "active",
            "starts_at": now.isoformat(),
            "expires_at": (now + timedelta(days=30)).isoformat(),
            "max_devices": DEVICES_PER_CUSTOMER,
        }
        body = _envelope("subscription.activated.v1", data, customer)
        subscriptions.append((customer, json.dumps(body).encode()))
        for n in range(DEVICES_PER_CUSTOMER):
            device = {
                "customer_id": customer,
                "device_id": f"dev-{n}",
                "kind": "stb",
                "model": "X1",
                "os": "Linux",
                "app_version": "1.2.3",
                "ip": "192.0.2.10",
                "connected_at": now.isoformat(),
            }
            body = _envelope("device.connected.v1", device, customer)
            connects.append((customer, json.dumps(body).encode()))
    return subscriptions, profiles, connects


def fleet_events(customers: list[str], count: int, rng: random.Random) -> list[tuple[str, bytes]]:
    """`count` app events: 90% heartbeats of random devices, 10% saved items and recordings."""
    start = datetime.now(UTC)
    events = []
    for n in range(count):
        customer = rng.choice(customers)
        at = (start + timedelta(milliseconds=n)).isoformat()
        roll = rng.random()
        if roll < 0.9:
            event_type = "device.heartbeat.v1"
            data: dict[str, Any] = {
                "customer_id": customer,
                "device_id": f"dev-{rng.randrange(DEVICES_PER_CUSTOMER)}",
                "ip": "192.0.2.10",
                "at": at,
            }
        elif roll < 0.97:
            event_type = rng.choice(
                ("favorite.added.v1", "watchlist.added.v1", "favorite.removed.v1")
            )
            data = {
                "customer_id": customer,
                "profile_id": "p-main",
                "item_type": "channel",
                "item_id": f"ch-{rng.randrange(50)}",
                "title": "A channel",
                "at": at,
            }
        else:
            event_type = "recording.scheduled.v1"
            starts = start + timedelta(hours=1 + rng.randrange(48))
            data = {
                "customer_id": customer,
                "profile_id": "p-main",
                "recording_id": f"rec-{uuid.uuid4().hex[:12]}",
                "channel_id": "ch-1",
                "programme_id": f"prog-{n}",
                "title": "A show",
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=1)).isoformat(),
                "at": at,
            }
        events.append((customer, json.dumps(_envelope(event_type, data, customer)).encode()))
    return events


def write_events(path: Path, events: list[tuple[str, bytes]]) -> None:
    with path.open("wb") as out:
        for key, value in events:
            out.write(key.encode() + b"\t" + value + b"\n")


async def produce_file(bootstrap: str, topic: str, path: Path) -> None:
    """The producer process's work: every line of `path` (key TAB value) onto `topic`."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=262144)
    await producer.start()
    # The leg's clock starts here, not at the interpreter's start.
    print("ready", flush=True)
    try:
        with path.open("rb") as lines:
            for line in lines:
                key, value = line.rstrip(b"\n").split(b"\t", 1)
                await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def start_producer(bootstrap: str, topic: str, path: Path) -> subprocess.Popen[bytes]:
    """A process of its own (its CPU is not the consumer's), returned once it can send."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.apps", "--produce", topic, str(path)],
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap},
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != b"ready":
        process.wait()
        raise RuntimeError("the producer process did not start")
    return process


async def end_offsets(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(harness.PARTITIONS)]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def wait_committed(
    bootstrap: str, group: str, target: dict[TopicPartition, int], timeout: float
) -> float:
    """Seconds until `group` has committed every partition up to `target` (lag 0)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < timeout:
            committed = await admin.list_consumer_group_offsets(group)
            if all(
                (committed.get(tp).offset if committed.get(tp) else 0) >= offset
                for tp, offset in target.items()
            ):
                return time.perf_counter() - started
            await asyncio.sleep(0.05)
        raise TimeoutError(f"{group} still lagging after {timeout:.0f}s")
    finally:
        await admin.close()


@dataclass
class Leg:
    events: int
    seconds: float
    cpu_ms_per_event: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


async def service_leg(
    bootstrap: str,
    prefix: str,
    activity: ServiceProcess,
    path: Path,
    count: int,
    timeout: float,
    *,
    drain: bool,
) -> Leg:
    """Paced: timed from the first send. Drain: the events are sent while activity is stopped
    (SIGSTOP, a few seconds, within its consumer session), timed from SIGCONT. With
    BENCH_PROFILE=<file>, py-spy samples activity meanwhile (the last leg's profile is kept)."""
    topic = f"{prefix}apps.events"
    before = await end_offsets(bootstrap, topic)
    assert activity.process is not None
    producer = await asyncio.to_thread(start_producer, bootstrap, topic, path)
    if drain:
        activity.process.send_signal(signal.SIGSTOP)
        try:
            await asyncio.to_thread(producer.wait)
        finally:
            activity.process.send_signal(signal.SIGCONT)
    profile = os.environ.get("BENCH_PROFILE")
    profilers = [harness.record_profile(activity.process.pid, Path(profile))] if profile else []
    cpu = harness.CpuMeter({"activity": activity.process.pid})
    started = time.perf_counter()
    await asyncio.to_thread(producer.wait)
    target = await end_offsets(bootstrap, topic)
    assert sum(target.values()) - sum(before.values()) == count
    await wait_committed(bootstrap, f"{prefix}activity", target, timeout)
    seconds = time.perf_counter() - started
    cpu_ms = cpu.ms_per(count)["activity"]
    await harness.stop_profiles(profilers)
    return Leg(count, seconds, cpu_ms)


async def raw_leg(
    bootstrap: str,
    topic: str,
    database_url: str,
    path: Path,
    count: int,
    batch_size: int,
    *,
    drain: bool,
) -> Leg:
    """aiokafka getmany, one upsert per record, one transaction and one offset commit per batch."""
    # The services' engine factory: on SQLite the same pragmas (WAL, synchronous=NORMAL).
    engine = create_engine(database_url)
    upsert = text(
        "INSERT INTO raw_state (key, at, body) VALUES (:key, :at, :body) "
        "ON CONFLICT (key) DO UPDATE SET at = excluded.at, body = excluded.body"
    )
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS raw_state "
                "(key VARCHAR(300) PRIMARY KEY, at VARCHAR(40) NOT NULL, body TEXT NOT NULL)"
            )
        )

    async def upsert_each(bodies: list[dict[str, Any]]) -> None:
        async with engine.begin() as conn:
            for body in bodies:
                data = body["data"]
                key = "|".join((data["customer_id"], body["type"], str(data.get("device_id"))))
                at = data.get("at") or data.get("connected_at") or ""
                await conn.execute(upsert, {"key": key, "at": at, "body": body["id"]})

    consumer = await harness.consumer_at_end(bootstrap, topic, batch_size=batch_size)
    producer = await asyncio.to_thread(start_producer, bootstrap, topic, path)
    if drain:
        await asyncio.to_thread(producer.wait)
    cpu = harness.CpuMeter({"raw": os.getpid()})
    started = time.perf_counter()
    try:
        done = await harness.consume_batches(consumer, count, batch_size, upsert_each)
        seconds = time.perf_counter() - started
        cpu_ms = cpu.ms_per(done)["raw"]
    finally:
        await asyncio.to_thread(producer.wait)
        await consumer.stop()
        await engine.dispose()
    return Leg(done, seconds, cpu_ms)


async def wait_setup(bootstrap: str, prefix: str) -> None:
    for name in ("billing.events", "customers.events", "apps.events"):
        target = await end_offsets(bootstrap, f"{prefix}{name}")
        await wait_committed(bootstrap, f"{prefix}activity", target, timeout=600)


MODES = ("paced", "drain")


def run_backend(backend: str, args: argparse.Namespace, run: harness.Bench) -> harness.Series[Leg]:
    """Legs by (mode, leg): mode "paced" or "drain", leg "service" or "raw"."""
    bootstrap, work = run.bootstrap, run.work
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    data_dir = work / backend
    data_dir.mkdir(parents=True, exist_ok=True)
    database_urls: dict[str, str] = {}
    raw_url = f"sqlite+aiosqlite:///{data_dir / 'raw.db'}"
    if backend == "postgres":
        database_urls = {"activity": run.database(f"{prefix[:-1]}_activity")}
        raw_url = run.database(f"{prefix[:-1]}_raw")
    [activity] = [
        p
        for p in service_processes(
            kafka_bootstrap_servers=bootstrap,
            data_dir=data_dir,
            log_dir=REPO_ROOT / "bench-results" / "logs" / f"apps-{backend}",
            ports={"activity": free_port()},
            database_urls=database_urls,
            extra_env={
                "KAFKA_TOPIC_PREFIX": prefix,
                "LOG_LEVEL": "WARNING",
                "CONSUMER_BATCH_SIZE": str(args.batch_size),
            },
            with_gateway=False,
        )
        if p.name == "activity"
    ]
    start_all([activity])
    rng = random.Random(7)
    raw_topic = f"{prefix}raw.apps.events"
    counts = {"paced": args.events, "drain": args.drain_events}
    try:
        customers = _customers(args.customers, prefix)
        subscriptions, profiles, connects = setup_events(customers)
        write_events(work / "subscriptions.jsonl", subscriptions)
        write_events(work / "profiles.jsonl", profiles)
        write_events(work / "connects.jsonl", connects)
        for topic, name in (
            ("billing.events", "subscriptions"),
            ("customers.events", "profiles"),
            ("apps.events", "connects"),
        ):
            start_producer(bootstrap, f"{prefix}{topic}", work / f"{name}.jsonl").wait()
            asyncio.run(wait_setup(bootstrap, prefix))
        asyncio.run(harness.create_topic(bootstrap, raw_topic))

        @cache
        def fleet(run_number: int, mode: str) -> Path:
            """One fleet's events a run and mode, the same for both legs."""
            path = work / f"fleet-{mode}-{run_number}.jsonl"
            write_events(path, fleet_events(customers, counts[mode], rng))
            return path

        def measure(run_number: int, mode: str, leg: str) -> Leg:
            path, count, drain = fleet(run_number, mode), counts[mode], mode == "drain"
            if leg == "service":
                return asyncio.run(
                    service_leg(bootstrap, prefix, activity, path, count, args.timeout, drain=drain)
                )
            return asyncio.run(
                raw_leg(bootstrap, raw_topic, raw_url, path, count, args.batch_size, drain=drain)
            )

        return run.alternate(
            f"apps {backend}",
            args.runs,
            MODES,
            measure,
            lambda leg: f"{leg.rate:.0f} events/s, {leg.cpu_ms_per_event:.3f} CPU ms/event",
        )
    finally:
        stop_all([activity])


def table(results: dict[str, harness.Series[Leg]], args: argparse.Namespace) -> str:
    service, raw = "service", "raw"
    figures: list[harness.Figure[Leg]] = harness.rate_figures("activity", "events/s", ".0f")
    figures += [
        harness.Figure(
            "activity CPU ms/event", harness.of_leg(service, lambda s: s.cpu_ms_per_event), ".3f"
        ),
        harness.Figure(
            "raw CPU ms/event", harness.of_leg(raw, lambda s: s.cpu_ms_per_event), ".3f"
        ),
        harness.Figure(
            "CPU share of raw",
            harness.of_pairs(lambda s, w: w.cpu_ms_per_event / s.cpu_ms_per_event),
            ".2f",
            "x",
        ),
    ]
    cases = {"paced": ["paced", str(args.events)], "drain": ["drain", str(args.drain_events)]}
    return harness.ab_table(results, ["mode", "events/run"], cases, figures, "lr")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--produce", nargs=2, metavar=("TOPIC", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--customers", type=int, default=int(os.environ.get("BENCH_CUSTOMERS", 2000))
    )
    parser.add_argument("--events", type=int, default=int(os.environ.get("BENCH_EVENTS", 20000)))
    # Sent while activity is stopped: small enough to send within its consumer session (10 s).
    parser.add_argument(
        "--drain-events", type=int, default=int(os.environ.get("BENCH_DRAIN_EVENTS", 5000))
    )
    harness.add_ab_arguments(parser)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    if args.produce:
        topic, path = args.produce
        asyncio.run(produce_file(os.environ["KAFKA_BOOTSTRAP_SERVERS"], topic, Path(path)))
        return
    harness.run_ab(
        "apps",
        args,
        f"{args.events} events",
        run_backend,
        lambda results: (
            "TV-app events into activity",
            f"{table(results, args)}\n\n"
            f"Fleet: {args.customers} customers x {DEVICES_PER_CUSTOMER} devices; 90% heartbeats, "
            "10% favorites/watchlist/recordings,\nsent by one producer process as fast as it can. "
            "Median (min-max) of "
            f"{args.runs} runs, service and raw legs alternated.\n"
            "paced: timed from the first send until activity's committed offsets reach the end\n"
            "(lag 0), so the producer's pace bounds both legs. drain: the events are sent first\n"
            "(activity held by SIGSTOP meanwhile), timed from the release: the consumer's own "
            "rate.\n"
            f"raw: aiokafka getmany (batches of {args.batch_size}), one upsert per record, one\n"
            "transaction and one offset commit per batch, same broker and database server.\n"
            "CPU ms/event: user+system time of the consuming process (/proc/<pid>/stat) / "
            "events;\nCPU share of raw: raw's CPU per event / activity's (1.0x = as cheap as the "
            "raw loop).\n",
        ),
    )


if __name__ == "__main__":
    main()
