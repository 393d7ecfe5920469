"""`make bench BENCH=orders`: webshop orders end to end (order.paid.v1 sent -> order.accepted.v1
on webshop.replies: customer resolved or created, subscription opened or renewed, ledger written,
customer active), new buyers (generated credentials) and returning buyers (renewals) measured
apart, each beside an honest raw pipeline on the same servers in the same run (A/B alternated):
aiokafka getmany, the same argon2 hash per generated password in a thread pool sized to the
cores, and the same rows written (customer, subscription, ledger entry, reply) in one
transaction per batch, one offset commit per batch; and a raw chain over the services' own hops
(tests/bench/raw_chain.py: what the design's hops cost with nothing else). SQLite and
PostgreSQL; writes a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from deploy.local.kafka import REPO_ROOT, free_port
from deploy.local.processes import SERVICES, ServiceProcess, service_processes, start_all, stop_all
from services.contracts.topics import ALL_TOPICS
from services.customers import credentials
from services.runtime.db import create_engine
from services.runtime.topics_admin import ensure_topics
from tests.bench import harness, raw_chain
from tests.system.conftest import order_paid

KINDS = ("new", "renewal")
LEGS = ("service", "raw", "chain")
# Every service that follows a renewal's events: customers and billing carry the order, tickets
# and activity consume customers.events and billing.events beside them on the same cores.
CPU_OF = ("customers", "billing", "tickets", "activity")
PROFILED = CPU_OF


@dataclass
class Leg:
    orders: int
    seconds: float
    cpu_ms: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.orders / self.seconds


def orders_for(buyers: list[dict[str, Any]], rounds: int = 1) -> list[dict[str, Any]]:
    """`rounds` order.paid.v1 per buyer, round after round (a buyer's orders in order, each
    with its own order id); a buyer seen before is a renewal of the same product."""
    return [order_paid(buyer=buyer) for _ in range(rounds) for buyer in buyers]


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
    `profile`, py-spy records the four services meanwhile (`<profile>-<service>.txt`)."""
    waiting = {o["data"]["order_id"] for o in orders}
    replies = await harness.consumer_at_end(bootstrap, f"{prefix}webshop.replies", group=False)
    pids = {p.name: p.process.pid for p in processes if p.process is not None}
    cpu = harness.CpuMeter(pids)
    profilers = [
        harness.record_profile(pids[name], Path(f"{profile}-{name}.txt"))
        for name in PROFILED
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
        await harness.stop_profiles(profilers)
    return Leg(len(orders), seconds, cpu.ms_per(len(orders)))


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


async def chain_leg(
    bootstrap: str, prefix: str, chain: dict[str, int], orders: list[dict[str, Any]]
) -> Leg:
    """The raw chain (tests/bench/raw_chain.py, `chain`: its processes' pids): from the first
    send until every order's reply is on its replies topic."""
    waiting = {o["data"]["order_id"] for o in orders}
    replies = await harness.consumer_at_end(bootstrap, prefix + raw_chain.REPLIES, group=False)
    cpu = harness.CpuMeter(chain)
    started = time.perf_counter()
    try:
        await send(bootstrap, prefix + raw_chain.ORDERS, orders)
        while waiting:
            batches = await replies.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    waiting.discard(json.loads(record.value or b"{}")["order_id"])
        seconds = time.perf_counter() - started
    finally:
        await replies.stop()
    cpu_ms = cpu.ms_per(len(orders))
    return Leg(len(orders), seconds, {"chain": sum(cpu_ms.values())})


def start_chain(
    bootstrap: str, prefix: str, database_urls: dict[str, str], batch_size: int, log_dir: Path
) -> list[subprocess.Popen[bytes]]:
    """The raw chain's two processes (customers' database, billing's), running until stopped;
    returns once both consume."""
    log_dir.mkdir(parents=True, exist_ok=True)
    # Partitioned as the services' topics are.
    asyncio.run(ensure_topics(bootstrap, tuple(prefix + t for t in raw_chain.TOPICS)))
    processes = []
    for name in raw_chain.PROCESSES:
        command = [sys.executable, "-m", "tests.bench.raw_chain", name, "--bootstrap", bootstrap]
        command += ["--database-url", database_urls[name], "--prefix", prefix]
        command += ["--batch-size", str(batch_size)]
        log = (log_dir / f"chain-{name}.log").open("wb")
        processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log))
    for process in processes:
        assert process.stdout is not None
        if process.stdout.readline().strip() != b"ready":
            stop_chain(processes)
            raise RuntimeError(f"the raw chain did not start: see {log_dir}/chain-*.log")
    return processes


def stop_chain(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


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
    consumer = await harness.consumer_at_end(bootstrap, topic, batch_size=batch_size)
    loop = asyncio.get_running_loop()
    cpu = harness.CpuMeter({"raw": os.getpid()})
    started = time.perf_counter()
    try:
        await send(bootstrap, topic, orders)
        done = await harness.consume_batches(
            consumer, len(orders), batch_size, lambda events: _raw_batch(engine, events, loop, pool)
        )
        seconds = time.perf_counter() - started
        cpu_ms = cpu.ms_per(done)
    finally:
        await consumer.stop()
        await engine.dispose()
    return Leg(done, seconds, cpu_ms)


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


def run_backend(backend: str, args: argparse.Namespace, run: harness.Bench) -> harness.Series[Leg]:
    """Legs by (kind, leg): kind "new" or "renewal", leg "service" or "raw"."""
    bootstrap = run.bootstrap
    prefix = f"benchord{uuid.uuid4().hex[:6]}."
    data_dir = run.work / backend
    data_dir.mkdir(parents=True, exist_ok=True)
    database_urls: dict[str, str] = {}
    log_dir = REPO_ROOT / "bench-results" / "logs" / f"orders-{backend}"
    raw_url = f"sqlite+aiosqlite:///{data_dir / 'raw.db'}"
    chain_urls = {
        n: f"sqlite+aiosqlite:///{data_dir / f'chain_{n}.db'}" for n in raw_chain.PROCESSES
    }
    if backend == "postgres":
        database_urls = {n: run.database(f"{prefix[:-1]}_{n}") for n in SERVICES}
        raw_url = run.database(f"{prefix[:-1]}_raw")
        chain_urls = {n: run.database(f"{prefix[:-1]}_chain_{n}") for n in raw_chain.PROCESSES}
    processes = service_processes(
        kafka_bootstrap_servers=bootstrap,
        data_dir=data_dir,
        log_dir=log_dir,
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
    chain = start_chain(bootstrap, prefix, chain_urls, args.batch_size, log_dir)
    chain_pids = dict(zip(raw_chain.PROCESSES, (p.pid for p in chain), strict=True))
    raw_topic = f"{prefix}raw.webshop.orders"
    # BENCH_PROFILE=<dir>: py-spy profiles of the four services in the last run's legs.
    profiles = harness.profile_dir()
    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="argon2")
    buyers_of_run: dict[int, list[dict[str, Any]]] = {}

    def buyers(run_number: int) -> list[dict[str, Any]]:
        """One set of buyers a run: new in the first kind, returning in the second."""
        if run_number not in buyers_of_run:
            uid = uuid.uuid4().hex[:6]
            buyers_of_run[run_number] = [
                {
                    "external_id": f"buyer-{uid}-{n}",
                    "email": f"{uid}.{n}@example.com",
                    "first_name": "Webshop",
                    "last_name": f"Buyer{uid}{n}",
                }
                for n in range(args.orders)
            ]
        return buyers_of_run[run_number]

    def measure(run_number: int, kind: str, leg: str) -> Leg:
        # Renewals at a month end's volume: each returning buyer renews `--renewals` times, so
        # both legs run at a steady rate instead of the chain's latency for one small batch.
        orders = orders_for(buyers(run_number), args.renewals if kind == "renewal" else 1)
        if leg == "service":
            profile = (
                profiles / f"{backend}-{kind}" if profiles and run_number == args.runs - 1 else None
            )
            return asyncio.run(service_leg(bootstrap, prefix, processes, orders, profile))
        if leg == "chain":
            return asyncio.run(chain_leg(bootstrap, prefix, chain_pids, orders))
        return asyncio.run(raw_leg(bootstrap, raw_topic, raw_url, orders, args.batch_size, pool))

    def describe(measured: Leg) -> str:
        busiest = ", ".join(f"{n} {v:.2f}" for n, v in measured.cpu_ms.items() if v >= 0.05)
        return f"{measured.rate:.1f} orders/s (CPU ms/order {busiest})"

    try:
        asyncio.run(harness.create_topic(bootstrap, raw_topic))
        return run.alternate(f"orders {backend}", args.runs, KINDS, measure, describe, LEGS)
    finally:
        pool.shutdown()
        stop_chain(chain)
        stop_all(processes)


def _cpu_ms(process: str) -> Callable[[Leg], float]:
    return lambda leg: leg.cpu_ms[process]


def table(results: dict[str, harness.Series[Leg]], args: argparse.Namespace) -> str:
    service, raw = "service", "raw"
    figures: list[harness.Figure[Leg]] = harness.rate_figures("service", "orders/s", ".1f")
    figures += [
        harness.Figure("chain orders/s", harness.of_leg("chain", lambda leg: leg.rate), ".1f"),
        harness.Figure(
            "share of chain", harness.of_pairs(lambda s, c: s.rate / c.rate, "chain"), ".2f", "x"
        ),
        *(
            harness.Figure(
                f"CPU ms/order {name}",
                harness.of_leg(leg, _cpu_ms(name)),
                ".2f",
            )
            for leg, name in (
                *((service, n) for n in CPU_OF),
                (raw, "raw"),
                ("chain", "chain"),
            )
        ),
    ]
    per_kind = {"new": args.orders, "renewal": args.orders * args.renewals}
    cases = {kind: [kind, str(per_kind[kind])] for kind in KINDS}
    return harness.ab_table(results, ["buyers", "orders/run"], cases, figures, "lr")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=int(os.environ.get("BENCH_ORDERS", 300)))
    parser.add_argument(
        "--renewals",
        type=int,
        default=int(os.environ.get("BENCH_RENEWALS", 10)),
        help="orders per returning buyer in the renewal leg (a month-end burst; default 10)",
    )
    harness.add_ab_arguments(parser)
    args = parser.parse_args()
    harness.run_ab(
        "orders",
        args,
        f"{args.orders} orders, {args.renewals} renewals a buyer",
        run_backend,
        lambda results: (
            "Webshop orders",
            f"{table(results, args)}\n\n"
            f"Median (min-max) of {args.runs} runs, service and raw legs alternated.\n"
            "new: buyers never seen (generated login and password, argon2 hash); renewal: the "
            f"same\nbuyers ordering again, {args.renewals} times each, round after round (found "
            "by webshop +\nexternal id, subscription renewed).\n"
            "Service: from the first order.paid.v1 sent until every order.accepted.v1 is on\n"
            "webshop.replies (all four services running, each on its own database).\n"
            f"Raw: aiokafka getmany (batches of {args.batch_size}), the argon2 hash of each new\n"
            "buyer's generated password in a thread pool of one thread per core, then one\n"
            "transaction per batch: buyers looked up, customers inserted, subscriptions opened "
            "or\nrenewed, ledger entries and replies inserted; one offset commit per batch; one\n"
            "database on the same server.\n"
            "Chain: the raw pipeline over the services' hops (tests/bench/raw_chain.py):\n"
            "orders -> customers' process -> billing's -> customers' -> replies, two processes,\n"
            "two databases, each hop getmany + one transaction per batch + its records\n"
            "produced + one offset commit; no envelope, inbox, outbox or tracing.\n"
            "CPU ms/order chain: both processes together.\n"
            "CPU ms/order: user+system time of the process (/proc/<pid>/stat) / orders; all four\n"
            "services (tickets and activity follow customers.events and billing.events).\n",
        ),
    )


if __name__ == "__main__":
    main()
