"""`make bench BENCH=orders`: webshop orders end to end (order.paid.v1 sent -> order.accepted.v1
on webshop.replies: customer resolved or created, subscription opened or renewed, ledger written,
customer active), new buyers (generated credentials) and returning buyers (renewals) measured
apart, each beside an honest raw pipeline on the same servers in the same run (A/B alternated):
aiokafka getmany, the same argon2 hash per generated password in a thread pool sized to the
cores, and the same rows written (customer, subscription, ledger entry, reply) in one
transaction per batch, one offset commit per batch. SQLite and PostgreSQL; writes a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import text

from deploy.local.kafka import REPO_ROOT, LocalKafka, ensure_jars, free_port
from deploy.local.processes import SERVICES, ServiceProcess, service_processes, start_all, stop_all
from services.contracts.topics import ALL_TOPICS
from services.customers import credentials
from services.runtime.db import create_engine
from services.runtime.topics_admin import ensure_topics
from tests.bench.apps import _median_spread, cpu_seconds, create_topic
from tests.bench.customers_list import postgres_server
from tests.bench.expiry import record_profile
from tests.system.conftest import order_paid

KINDS = ("new", "renewal")


@dataclass
class Leg:
    orders: int
    seconds: float
    cpu_ms: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.orders / self.seconds


@dataclass
class BackendResult:
    backend: str
    # (kind, leg) -> one Leg per run; kind "new" or "renewal", leg "service" or "raw".
    legs: dict[tuple[str, str], list[Leg]] = field(default_factory=dict)


def orders_for(buyers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One order.paid.v1 per buyer; a buyer seen before is a renewal of the same product."""
    return [order_paid(buyer=buyer) for buyer in buyers]


async def send(bootstrap: str, topic: str, orders: list[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, enable_idempotence=True)
    await producer.start()
    try:
        for order in orders:
            key = order["data"]["buyer"]["external_id"].encode()
            await producer.send(topic, json.dumps(order).encode(), key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def service_leg(
    bootstrap: str,
    prefix: str,
    processes: list[ServiceProcess],
    orders: list[dict[str, Any]],
    profile: Path | None = None,
) -> Leg:
    """From the first send until every order's order.accepted.v1 is on webshop.replies; with
    `profile`, py-spy records customers and billing meanwhile (`<profile>-<service>.txt`)."""
    waiting = {o["data"]["order_id"] for o in orders}
    replies = AIOKafkaConsumer(
        f"{prefix}webshop.replies",
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="latest",
    )
    await replies.start()
    while not replies.assignment():
        await replies.getmany(timeout_ms=100)
    for tp in replies.assignment():
        await replies.position(tp)
    pids = {p.name: p.process.pid for p in processes if p.process is not None}
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    profilers = [
        record_profile(pids[name], Path(f"{profile}-{name}.txt"))
        for name in ("customers", "billing")
        if profile is not None
    ]
    started = time.perf_counter()
    try:
        await send(bootstrap, f"{prefix}webshop.orders", orders)
        while waiting:
            batches = await replies.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    body = json.loads(record.value or b"{}")
                    if body.get("type") != "order.accepted.v1":
                        raise RuntimeError(f"order refused: {body}")
                    waiting.discard(body["data"]["order_id"])
        seconds = time.perf_counter() - started
    finally:
        await replies.stop()
        for profiler in profilers:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its profile on SIGINT
            await asyncio.to_thread(profiler.wait)
    cpu_ms = {
        name: (cpu_seconds(pid) - cpu_before[name]) * 1000 / len(orders)
        for name, pid in pids.items()
    }
    return Leg(len(orders), seconds, cpu_ms)


RAW_TABLES = (
    "CREATE TABLE IF NOT EXISTS raw_customer (id VARCHAR(36) PRIMARY KEY, "
    "webshop_id VARCHAR(64) NOT NULL, external_id VARCHAR(200) NOT NULL, email VARCHAR(254), "
    "first_name VARCHAR(100), last_name VARCHAR(100), login VARCHAR(64) NOT NULL, "
    "password_hash VARCHAR(200) NOT NULL, status VARCHAR(16) NOT NULL, "
    "UNIQUE (webshop_id, external_id))",
    "CREATE TABLE IF NOT EXISTS raw_subscription (customer_id VARCHAR(36) PRIMARY KEY, "
    "product_id VARCHAR(64) NOT NULL, plan_id VARCHAR(64) NOT NULL, "
    "expires_at VARCHAR(40) NOT NULL)",
    "CREATE TABLE IF NOT EXISTS raw_ledger (id VARCHAR(36) PRIMARY KEY, "
    "customer_id VARCHAR(36) NOT NULL, order_id VARCHAR(200) NOT NULL UNIQUE, "
    "amount VARCHAR(20) NOT NULL, currency VARCHAR(3) NOT NULL)",
    "CREATE TABLE IF NOT EXISTS raw_reply (order_id VARCHAR(200) PRIMARY KEY, body TEXT NOT NULL)",
)


async def raw_leg(
    bootstrap: str,
    topic: str,
    database_url: str,
    orders: list[dict[str, Any]],
    batch_size: int,
    pool: ThreadPoolExecutor,
) -> Leg:
    """getmany; per batch: the argon2 hashes of the new buyers' generated passwords in the
    pool, then in one transaction the buyers looked up, new customers inserted, subscriptions
    opened or renewed, ledger entries and replies inserted; one offset commit."""
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        for statement in RAW_TABLES:
            await conn.execute(text(statement))
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"raw-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="latest",
        enable_auto_commit=False,
        max_poll_records=batch_size,
    )
    await consumer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=100)
    for tp in consumer.assignment():
        await consumer.position(tp)
    loop = asyncio.get_running_loop()
    own = os.getpid()
    cpu_before = cpu_seconds(own)
    started = time.perf_counter()
    done = 0
    try:
        await send(bootstrap, topic, orders)
        while done < len(orders):
            batches = await consumer.getmany(timeout_ms=500, max_records=batch_size)
            for records in batches.values():
                await _raw_batch(
                    engine, [json.loads(r.value or b"{}") for r in records], loop, pool
                )
                await consumer.commit()
                done += len(records)
        seconds = time.perf_counter() - started
        cpu = cpu_seconds(own) - cpu_before
    finally:
        await consumer.stop()
        await engine.dispose()
    return Leg(done, seconds, {"raw": cpu * 1000 / done})


async def _raw_batch(
    engine: Any,
    events: list[dict[str, Any]],
    loop: asyncio.AbstractEventLoop,
    pool: ThreadPoolExecutor,
) -> None:
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        keys = [(e["data"]["webshop_id"], e["data"]["buyer"]["external_id"]) for e in events]
        known = {
            (w, x): i
            for i, w, x in await conn.execute(
                text(
                    "SELECT id, webshop_id, external_id FROM raw_customer WHERE external_id IN ("
                    + ", ".join(f":x{n}" for n in range(len(keys)))
                    + ")"
                ),
                {f"x{n}": x for n, (_, x) in enumerate(keys)},
            )
        }
        fresh = [e for e, k in zip(events, keys, strict=True) if k not in known]
        passwords = [credentials.generate_password() for _ in fresh]
        hashes = await asyncio.gather(
            *(loop.run_in_executor(pool, credentials.hash_password, p) for p in passwords)
        )
        new_rows = []
        for event, password_hash in zip(fresh, hashes, strict=True):
            data, buyer = event["data"], event["data"]["buyer"]
            customer_id = str(uuid.uuid4())
            known[(data["webshop_id"], buyer["external_id"])] = customer_id
            new_rows.append(
                {
                    "id": customer_id,
                    "webshop_id": data["webshop_id"],
                    "external_id": buyer["external_id"],
                    "email": buyer["email"],
                    "first_name": buyer["first_name"],
                    "last_name": buyer["last_name"],
                    "login": credentials.generate_login(),
                    "password_hash": password_hash,
                    "status": "active",
                }
            )
        if new_rows:
            await conn.execute(
                text(
                    "INSERT INTO raw_customer VALUES (:id, :webshop_id, :external_id, :email, "
                    ":first_name, :last_name, :login, :password_hash, :status)"
                ),
                new_rows,
            )
        expires = (now + timedelta(days=30)).isoformat()
        subscriptions = [
            {
                "customer_id": known[k],
                "product_id": e["data"]["product_id"],
                "plan_id": e["data"]["plan_id"],
                "expires_at": expires,
            }
            for e, k in zip(events, keys, strict=True)
        ]
        await conn.execute(
            text(
                "INSERT INTO raw_subscription VALUES (:customer_id, :product_id, :plan_id, "
                ":expires_at) ON CONFLICT (customer_id) DO UPDATE SET "
                "expires_at = excluded.expires_at"
            ),
            subscriptions,
        )
        await conn.execute(
            text(
                "INSERT INTO raw_ledger VALUES (:id, :customer_id, :order_id, :amount, :currency)"
            ),
            [
                {
                    "id": str(uuid.uuid4()),
                    "customer_id": known[k],
                    "order_id": e["data"]["order_id"],
                    "amount": e["data"]["amount"],
                    "currency": e["data"]["currency"],
                }
                for e, k in zip(events, keys, strict=True)
            ],
        )
        await conn.execute(
            text("INSERT INTO raw_reply VALUES (:order_id, :body)"),
            [
                {
                    "order_id": e["data"]["order_id"],
                    "body": json.dumps({"customer_id": known[k], "expires_at": expires}),
                }
                for e, k in zip(events, keys, strict=True)
            ],
        )


def run_backend(
    backend: str, bootstrap: str, args: argparse.Namespace, work: Path, create_database: Any
) -> BackendResult:
    prefix = f"benchord{uuid.uuid4().hex[:6]}."
    data_dir = work / backend
    data_dir.mkdir(parents=True, exist_ok=True)
    database_urls: dict[str, str] = {}
    raw_url = f"sqlite+aiosqlite:///{data_dir / 'raw.db'}"
    if backend == "postgres":
        database_urls = {n: create_database(f"{prefix[:-1]}_{n}") for n in SERVICES}
        raw_url = create_database(f"{prefix[:-1]}_raw")
    processes = service_processes(
        kafka_bootstrap_servers=bootstrap,
        data_dir=data_dir,
        log_dir=REPO_ROOT / "bench-results" / "logs" / f"orders-{backend}",
        ports={name: free_port() for name in SERVICES},
        database_urls=database_urls,
        extra_env={
            "KAFKA_TOPIC_PREFIX": prefix,
            "SEED_DEMO_CATALOG": "1",
            "LOG_LEVEL": "WARNING",
            "CONSUMER_BATCH_SIZE": str(args.batch_size),
        },
        with_gateway=False,
    )
    # Created first: on a loaded shared broker, services creating them at once timed out.
    asyncio.run(ensure_topics(bootstrap, tuple(prefix + t for t in ALL_TOPICS)))
    start_all(processes)
    result = BackendResult(backend)
    raw_topic = f"{prefix}raw.webshop.orders"
    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="argon2")
    try:
        asyncio.run(create_topic(bootstrap, raw_topic))
        for run in range(args.runs):
            # One set of buyers a run: new in the first kind, returning in the second.
            uid = uuid.uuid4().hex[:6]
            buyers = [
                {
                    "external_id": f"buyer-{uid}-{n}",
                    "email": f"{uid}.{n}@example.com",
                    "first_name": "Webshop",
                    "last_name": f"Buyer{uid}{n}",
                }
                for n in range(args.orders)
            ]
            for kind in KINDS:
                order = ("service", "raw") if run % 2 == 0 else ("raw", "service")
                for leg in order:
                    orders = orders_for(buyers)
                    if leg == "service":
                        profile = (
                            args.profile / f"{backend}-{kind}"
                            if args.profile and run == args.runs - 1
                            else None
                        )
                        work_leg = service_leg(bootstrap, prefix, processes, orders, profile)
                    else:
                        work_leg = raw_leg(
                            bootstrap, raw_topic, raw_url, orders, args.batch_size, pool
                        )
                    measured = asyncio.run(work_leg)
                    result.legs.setdefault((kind, leg), []).append(measured)
                    busiest = ", ".join(
                        f"{n} {v:.2f}" for n, v in measured.cpu_ms.items() if v >= 0.05
                    )
                    print(
                        f"bench orders {backend} run {run + 1} {kind} {leg}: "
                        f"{measured.rate:.1f} orders/s (CPU ms/order {busiest})",
                        flush=True,
                    )
    finally:
        pool.shutdown()
        stop_all(processes)
    return result


def table(results: list[BackendResult], args: argparse.Namespace) -> str:
    lines = [
        "| database | buyers | orders/run | service orders/s | raw orders/s | share of raw "
        "| CPU ms/order customers | CPU ms/order billing | CPU ms/order raw |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for kind in KINDS:
            service, raw = r.legs[(kind, "service")], r.legs[(kind, "raw")]
            shares = [s.rate / w.rate for s, w in zip(service, raw, strict=True)]
            lines.append(
                f"| {r.backend} | {kind} | {args.orders} "
                f"| {_median_spread([s.rate for s in service], '.1f')} "
                f"| {_median_spread([s.rate for s in raw], '.1f')} "
                f"| {_median_spread(shares, '.2f')}x "
                f"| {_median_spread([s.cpu_ms['customers'] for s in service], '.2f')} "
                f"| {_median_spread([s.cpu_ms['billing'] for s in service], '.2f')} "
                f"| {_median_spread([s.cpu_ms['raw'] for s in raw], '.2f')} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=int(os.environ.get("BENCH_ORDERS", 300)))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    # BENCH_PROFILE=<dir>: py-spy profiles of customers and billing in the last run's legs.
    profile = os.environ.get("BENCH_PROFILE")
    args.profile = Path(profile) if profile else None
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    out_dir = REPO_ROOT / "bench-results"
    out_dir.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="tvcm-bench-orders-"))
    os.chmod(work, 0o755)
    results = []
    with ExitStack() as stack:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            ensure_jars()
            kafka = LocalKafka(
                port=free_port(),
                controller_port=free_port(),
                data_dir=work / "kafka",
                log_file=out_dir / "logs" / "kafka.log",
            )
            kafka.start()
            stack.callback(kafka.stop)
            bootstrap = kafka.bootstrap_servers
        backends = args.backends.split(",")
        create_database = None
        if "postgres" in backends:
            create_database = stack.enter_context(postgres_server(stack, work, out_dir))
        for backend in backends:
            print(f"bench orders: {args.orders} orders x {args.runs} runs on {backend}", flush=True)
            results.append(run_backend(backend, bootstrap, args, work, create_database))
    report = (
        f"# Webshop orders ({time.strftime('%Y-%m-%d %H:%M')}, {platform.node()}, "
        f"{os.cpu_count()} cores)\n\n{table(results, args)}\n\n"
        f"Median (min-max) of {args.runs} runs, service and raw legs alternated.\n"
        "new: buyers never seen (generated login and password, argon2 hash); renewal: the same\n"
        "buyers ordering again (found by webshop + external id, subscription renewed).\n"
        "Service: from the first order.paid.v1 sent until every order.accepted.v1 is on\n"
        "webshop.replies (all four services running, each on its own database).\n"
        f"Raw: aiokafka getmany (batches of {args.batch_size}), the argon2 hash of each new\n"
        "buyer's generated password in a thread pool of one thread per core, then one\n"
        "transaction per batch: buyers looked up, customers inserted, subscriptions opened or\n"
        "renewed, ledger entries and replies inserted; one offset commit per batch; one\n"
        "database on the same server.\n"
        "CPU ms/order: user+system time of the process (/proc/<pid>/stat) / orders.\n"
    )
    (out_dir / "orders.md").write_text(report)
    print("\n" + report)


if __name__ == "__main__":
    main()
