"""`make bench BENCH=expiry`: month end. N subscriptions (10,000) due at once; the time from the
scheduler's pass until the customers list shows every one of them expired, along the chain
billing scheduler -> outbox relay -> Kafka -> customers consumer -> list, beside a raw pipeline
doing the same essential work on the same servers in the same run (A/B alternated): one UPDATE
of the due rows in billing's database, one small message per customer through the same broker,
aiokafka getmany and one UPDATE per batch into customers' database, one offset commit per batch.

Servers: KAFKA_BOOTSTRAP_SERVERS and BENCH_POSTGRES_URL as in tests/bench/customers_list.py.
BENCH_PROFILE=<dir>: py-spy records billing and customers during the last service leg.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import Table, bindparam, insert, select, text, update

from deploy.local.kafka import REPO_ROOT, LocalKafka, ensure_jars, free_port
from deploy.local.processes import ServiceProcess, service_processes, start_all, stop_all
from services.billing.models import Subscription
from services.contracts.topics import ALL_TOPICS
from services.customers import seed
from services.customers.models import Customer
from services.customers.status import STATUS_RANK
from services.runtime.db import create_engine
from services.runtime.service_auth import ServiceTokenAuth, service_token_secret_in
from services.runtime.topics_admin import ensure_topics
from tests.bench.apps import _median_spread, cpu_seconds, create_topic
from tests.bench.customers_list import postgres_server

SUBSCRIPTION = cast(Table, Subscription.__table__)
CUSTOMER = cast(Table, Customer.__table__)


@dataclass
class Leg:
    seconds: float
    # Service legs: when each link of the chain was done, seconds from the start.
    scheduler: float = 0.0
    relayed: float = 0.0
    cpu_ms: dict[str, float] = field(default_factory=dict)


@dataclass
class BackendResult:
    backend: str
    service: list[Leg] = field(default_factory=list)
    raw: list[Leg] = field(default_factory=list)


async def _scalar(engine: Any, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


async def make_due(billing_db: Any, customers_db: Any, count: int, *, first: bool) -> None:
    """Every customer active on a subscription that ended a second ago, in both services (the
    state a month of sales leaves); the first time, billing's rows are inserted. Core statements
    on the services' own tables, so values are stored as the services store them."""
    now = datetime.now(UTC)
    due = now - timedelta(seconds=1)
    async with customers_db.begin() as conn:
        ids = list((await conn.scalars(select(CUSTOMER.c.id).order_by(CUSTOMER.c.id))).all())
        assert len(ids) == count, (len(ids), count)
        await conn.execute(
            update(CUSTOMER).values(
                status="active",
                status_rank=STATUS_RANK["active"],
                subscription_status="active",
                product_id="basic",
                plan_id="basic-1m",
                subscription_id=CUSTOMER.c.id,  # the same id in billing below
                expires_at=now + timedelta(days=1),
            )
        )
    async with billing_db.begin() as conn:
        if first:
            await conn.execute(
                insert(SUBSCRIPTION),
                [
                    {
                        "id": c,
                        "customer_id": c,
                        "webshop_id": "shop-eu",
                        "product_id": "basic",
                        "plan_id": "basic-1m",
                        "extra_product_ids": [],
                        "status": "active",
                        "starts_at": due - timedelta(days=30),
                        "expires_at": due,
                        "cancel_at_period_end": False,
                        "version": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for c in ids
                ],
            )
        else:
            await conn.execute(
                update(SUBSCRIPTION).values(
                    status="active", expires_at=due, expiring_notice_for=None
                )
            )


async def service_leg(
    billing: ServiceProcess,
    customers: ServiceProcess,
    billing_db: Any,
    count: int,
    timeout: float,
    profile_dir: Path | None,
) -> Leg:
    pids = {p.name: p.process.pid for p in (billing, customers) if p.process is not None}
    profilers = (
        [record_profile(pid, profile_dir / f"{name}.txt") for name, pid in pids.items()]
        if (profile_dir)
        else []
    )
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    # Signed as the gateway signs its calls, with the key the processes keep in DATA_DIR.
    auth = ServiceTokenAuth(service_token_secret_in(Path(billing.env["DATA_DIR"])), actor="bench")
    async with httpx.AsyncClient(timeout=timeout, auth=auth) as http:
        started = time.perf_counter()
        tick = await http.post(f"{billing.url}/scheduler/tick")
        tick.raise_for_status()
        scheduler = time.perf_counter() - started
        assert tick.json()["expired"] == count, tick.text
        relayed = 0.0
        while True:
            if not relayed and not await _scalar(billing_db, "SELECT count(*) FROM outbox"):
                relayed = time.perf_counter() - started
            page = await http.get(
                f"{customers.url}/customers", params={"status_group": "active", "limit": 1}
            )
            page.raise_for_status()
            if not page.json()["items"] and relayed:
                break
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"customers still active after {timeout:.0f}s")
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - started
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)  # py-spy writes its profile on SIGINT
        await asyncio.to_thread(profiler.wait)
    cpu_ms = {
        name: (cpu_seconds(pid) - cpu_before[name]) * 1000 / count for name, pid in pids.items()
    }
    return Leg(seconds, scheduler, relayed, cpu_ms)


def record_profile(pid: int, target: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling `pid` at 50 Hz into `target` (raw, folded stacks) until SIGINT."""
    command = ["py-spy", "record", "--pid", str(pid), "--rate", "50", "--format", "raw"]
    return subprocess.Popen(
        [*command, "--output", str(target)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def raw_leg(
    bootstrap: str, topic: str, billing_db: Any, customers_db: Any, count: int, batch_size: int
) -> Leg:
    """The same essential work without the services: one UPDATE .. RETURNING of the due rows,
    a message per customer, getmany and one UPDATE per batch, one offset commit per batch."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"raw-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="latest",
        enable_auto_commit=False,
        max_poll_records=batch_size,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=5)
    await consumer.start()
    await producer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=100)
    for tp in consumer.assignment():
        await consumer.position(tp)
    own = os.getpid()
    cpu_before = cpu_seconds(own)
    started = time.perf_counter()
    try:
        async with billing_db.begin() as conn:
            rows = (
                await conn.execute(
                    update(SUBSCRIPTION)
                    .where(
                        SUBSCRIPTION.c.status.in_(("active", "trial")),
                        SUBSCRIPTION.c.expires_at <= datetime.now(UTC),
                    )
                    .values(status="expired", version=SUBSCRIPTION.c.version + 1)
                    .returning(SUBSCRIPTION.c.customer_id, SUBSCRIPTION.c.expires_at)
                )
            ).all()
        assert len(rows) == count, len(rows)
        for customer_id, expires_at in rows:
            body = {"customer_id": customer_id, "expired_at": str(expires_at)}
            await producer.send(topic, json.dumps(body).encode(), key=customer_id.encode())
        await producer.flush()
        scheduler = time.perf_counter() - started
        done = 0
        expire = (
            update(CUSTOMER)
            .where(CUSTOMER.c.id == bindparam("customer"))
            .values(
                status="expired", status_rank=STATUS_RANK["expired"], subscription_status="expired"
            )
        )
        while done < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=batch_size)
            for records in batches.values():
                async with customers_db.begin() as conn:
                    ids = [json.loads(r.value or b"{}")["customer_id"] for r in records]
                    await conn.execute(expire, [{"customer": i} for i in ids])
                await consumer.commit()
                done += len(records)
        seconds = time.perf_counter() - started
        cpu = cpu_seconds(own) - cpu_before
    finally:
        await producer.stop()
        await consumer.stop()
    return Leg(seconds, scheduler, scheduler, {"raw": cpu * 1000 / count})


def run_backend(
    backend: str, bootstrap: str, args: argparse.Namespace, work: Path, create_database: Any
) -> BackendResult:
    prefix = f"benchexp{uuid.uuid4().hex[:6]}."
    data_dir = work / backend
    data_dir.mkdir(parents=True, exist_ok=True)
    if backend == "postgres":
        urls = {n: create_database(f"{prefix[:-1]}_{n}") for n in ("billing", "customers")}
    else:
        urls = {n: f"sqlite+aiosqlite:///{data_dir / f'{n}.db'}" for n in ("billing", "customers")}
    processes = [
        p
        for p in service_processes(
            kafka_bootstrap_servers=bootstrap,
            data_dir=data_dir,
            log_dir=REPO_ROOT / "bench-results" / "logs" / f"expiry-{backend}",
            ports={"billing": free_port(), "customers": free_port()},
            database_urls=urls,
            extra_env={
                "KAFKA_TOPIC_PREFIX": prefix,
                "LOG_LEVEL": "WARNING",
                "SEED_DEMO_CATALOG": "1",
                # Only the pass the benchmark starts: the background one waits an hour.
                "BILLING_SCHEDULER_INTERVAL_SECONDS": "3600",
            },
            with_gateway=False,
        )
        if p.name in ("billing", "customers")
    ]
    by_name = {p.name: p for p in processes}
    # Created before the services start: on a loaded shared broker two services creating the
    # same topics at once waited past their consumers' metadata timeout.
    asyncio.run(ensure_topics(bootstrap, tuple(prefix + t for t in ALL_TOPICS)))
    start_all(processes)
    result = BackendResult(backend)
    raw_topic = f"{prefix}raw.expiry"
    try:
        asyncio.run(seed.seed(urls["customers"], args.subscriptions))
        asyncio.run(create_topic(bootstrap, raw_topic))
        for run in range(args.runs):
            order = ("service", "raw") if run % 2 == 0 else ("raw", "service")
            for leg in order:

                async def measure(leg: str = leg, run: int = run) -> Leg:
                    billing_db = create_engine(urls["billing"])
                    customers_db = create_engine(urls["customers"])
                    try:
                        first = run == 0 and leg == "service"
                        await make_due(billing_db, customers_db, args.subscriptions, first=first)
                        if leg == "raw":
                            return await raw_leg(
                                bootstrap,
                                raw_topic,
                                billing_db,
                                customers_db,
                                args.subscriptions,
                                args.batch_size,
                            )
                        profile = args.profile if run == args.runs - 1 else None
                        return await service_leg(
                            by_name["billing"],
                            by_name["customers"],
                            billing_db,
                            args.subscriptions,
                            args.timeout,
                            profile,
                        )
                    finally:
                        await billing_db.dispose()
                        await customers_db.dispose()

                measured = asyncio.run(measure())
                (result.service if leg == "service" else result.raw).append(measured)
                cpu = ", ".join(f"{n} {v:.3f}" for n, v in measured.cpu_ms.items())
                print(
                    f"bench expiry {backend} run {run + 1} {leg}: {measured.seconds:.1f} s "
                    f"(scheduler {measured.scheduler:.1f} s, relayed {measured.relayed:.1f} s; "
                    f"CPU ms/event {cpu})",
                    flush=True,
                )
    finally:
        stop_all(processes)
    return result


def table(results: list[BackendResult], count: int) -> str:
    lines = [
        "| database | due | every customer expired in the list (s) | raw pipeline (s) "
        "| raw / service | scheduler pass (s) | all relayed (s) | CPU ms/event billing "
        "| CPU ms/event customers | CPU ms/event raw |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        shares = [w.seconds / s.seconds for s, w in zip(r.service, r.raw, strict=True)]
        lines.append(
            f"| {r.backend} | {count} "
            f"| {_median_spread([s.seconds for s in r.service], '.1f')} "
            f"| {_median_spread([s.seconds for s in r.raw], '.1f')} "
            f"| {_median_spread(shares, '.2f')}x "
            f"| {_median_spread([s.scheduler for s in r.service], '.1f')} "
            f"| {_median_spread([s.relayed for s in r.service], '.1f')} "
            f"| {_median_spread([s.cpu_ms['billing'] for s in r.service], '.3f')} "
            f"| {_median_spread([s.cpu_ms['customers'] for s in r.service], '.3f')} "
            f"| {_median_spread([s.cpu_ms['raw'] for s in r.raw], '.3f')} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--subscriptions", type=int, default=int(os.environ.get("BENCH_SUBSCRIPTIONS", 10_000))
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    profile = os.environ.get("BENCH_PROFILE")
    args.profile = Path(profile) if profile else None
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    out_dir = REPO_ROOT / "bench-results"
    out_dir.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="tvcm-bench-expiry-"))
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
            print(f"bench expiry: {args.subscriptions} due x {args.runs} runs on {backend}")
            results.append(run_backend(backend, bootstrap, args, work, create_database))
    report = (
        f"# Month end: due subscriptions expired ({time.strftime('%Y-%m-%d %H:%M')}, "
        f"{platform.node()}, {os.cpu_count()} cores)\n\n{table(results, args.subscriptions)}\n\n"
        f"Median (min-max) of {args.runs} runs, service and raw legs alternated.\n"
        "Service: from POST /scheduler/tick on billing until GET /customers?status_group=active"
        " on\nthe customers service is empty (every customer expired in the list); the scheduler"
        " pass is\nwhen the tick answered, all relayed when billing's outbox had nothing left to"
        " publish.\nRaw: one UPDATE .. RETURNING of the due rows in billing's database, one"
        " message per customer\n(idempotent producer), aiokafka getmany and one UPDATE per batch"
        f" of {args.batch_size} into customers'\ndatabase, one offset commit per batch; raw /"
        " service = raw seconds / service seconds.\nCPU ms/event: user+system time of the process"
        " (/proc/<pid>/stat) / due subscriptions.\n"
    )
    (out_dir / "expiry.md").write_text(report)
    print("\n" + report)


if __name__ == "__main__":
    main()
