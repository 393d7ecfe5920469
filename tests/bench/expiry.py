"""`make bench BENCH=expiry`: month end. N subscriptions (10,000) due at once; the time from the
scheduler's pass until the customers list shows every one of them expired, along the chain
billing scheduler -> outbox relay -> Kafka -> customers consumer -> list, beside a raw pipeline
doing the same essential work on the same servers in the same run (A/B alternated): one UPDATE
of the due rows in billing's database, one small message per customer through the same broker,
aiokafka getmany and one UPDATE per batch into customers' database, one offset commit per batch.

Servers: KAFKA_BOOTSTRAP_SERVERS and BENCH_POSTGRES_URL as in tests/bench/harness.py.
BENCH_PROFILE=<dir>: py-spy records billing and customers during the last service leg.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import Table, bindparam, insert, select, text, update

from deploy.local.kafka import REPO_ROOT, free_port
from deploy.local.processes import ServiceProcess, service_processes, start_all, stop_all
from services.billing.models import Subscription
from services.contracts.topics import ALL_TOPICS
from services.customers import seed
from services.customers.models import Customer
from services.customers.status import STATUS_RANK
from services.runtime.db import create_engine
from services.runtime.service_auth import ServiceTokenAuth, service_token_secret_in
from services.runtime.topics_admin import ensure_topics
from tests.bench import harness

SUBSCRIPTION = cast(Table, Subscription.__table__)
CUSTOMER = cast(Table, Customer.__table__)


@dataclass
class Leg:
    seconds: float
    # Service legs: when each link of the chain was done, seconds from the start.
    scheduler: float = 0.0
    relayed: float = 0.0
    cpu_ms: dict[str, float] = field(default_factory=dict)


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
        [harness.record_profile(pid, profile_dir / f"{name}.txt") for name, pid in pids.items()]
        if (profile_dir)
        else []
    )
    cpu = harness.CpuMeter(pids)
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
    await harness.stop_profiles(profilers)
    return Leg(seconds, scheduler, relayed, cpu.ms_per(count))


async def raw_leg(
    bootstrap: str, topic: str, billing_db: Any, customers_db: Any, count: int, batch_size: int
) -> Leg:
    """The same essential work without the services: one UPDATE .. RETURNING of the due rows,
    a message per customer, getmany and one UPDATE per batch, one offset commit per batch."""
    consumer = await harness.consumer_at_end(bootstrap, topic, batch_size=batch_size)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=5)
    await producer.start()
    cpu = harness.CpuMeter({"raw": os.getpid()})
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
        expire = (
            update(CUSTOMER)
            .where(CUSTOMER.c.id == bindparam("customer"))
            .values(
                status="expired", status_rank=STATUS_RANK["expired"], subscription_status="expired"
            )
        )

        async def expire_batch(bodies: list[dict[str, Any]]) -> None:
            async with customers_db.begin() as conn:
                await conn.execute(expire, [{"customer": b["customer_id"]} for b in bodies])

        await harness.consume_batches(consumer, count, batch_size, expire_batch)
        seconds = time.perf_counter() - started
        cpu_ms = cpu.ms_per(count)
    finally:
        await producer.stop()
        await consumer.stop()
    return Leg(seconds, scheduler, scheduler, cpu_ms)


def run_backend(backend: str, args: argparse.Namespace, run: harness.Bench) -> harness.Series[Leg]:
    """Legs by ("", leg): leg "service" or "raw"."""
    bootstrap = run.bootstrap
    prefix = f"benchexp{uuid.uuid4().hex[:6]}."
    data_dir = run.work / backend
    data_dir.mkdir(parents=True, exist_ok=True)
    if backend == "postgres":
        urls = {n: run.database(f"{prefix[:-1]}_{n}") for n in ("billing", "customers")}
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
    raw_topic = f"{prefix}raw.expiry"
    profiles = harness.profile_dir()

    async def measure_leg(run_number: int, leg: str) -> Leg:
        billing_db = create_engine(urls["billing"])
        customers_db = create_engine(urls["customers"])
        try:
            first = run_number == 0 and leg == "service"
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
            profile = profiles if run_number == args.runs - 1 else None
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

    def describe(measured: Leg) -> str:
        cpu = ", ".join(f"{n} {v:.3f}" for n, v in measured.cpu_ms.items())
        return (
            f"{measured.seconds:.1f} s (scheduler {measured.scheduler:.1f} s, relayed "
            f"{measured.relayed:.1f} s; CPU ms/event {cpu})"
        )

    try:
        asyncio.run(seed.seed(urls["customers"], args.subscriptions))
        asyncio.run(harness.create_topic(bootstrap, raw_topic))
        return run.alternate(
            f"expiry {backend}",
            args.runs,
            ("",),
            lambda run_number, _, leg: asyncio.run(measure_leg(run_number, leg)),
            describe,
        )
    finally:
        stop_all(processes)


def _cpu_ms(process: str) -> Callable[[Leg], float]:
    return lambda leg: leg.cpu_ms[process]


def table(results: dict[str, harness.Series[Leg]], count: int) -> str:
    service, raw = "service", "raw"
    figures: list[harness.Figure[Leg]] = [
        harness.Figure(
            "every customer expired in the list (s)",
            harness.of_leg(service, lambda s: s.seconds),
            ".1f",
        ),
        harness.Figure("raw pipeline (s)", harness.of_leg(raw, lambda s: s.seconds), ".1f"),
        harness.Figure(
            "raw / service", harness.of_pairs(lambda s, w: w.seconds / s.seconds), ".2f", "x"
        ),
        harness.Figure("scheduler pass (s)", harness.of_leg(service, lambda s: s.scheduler), ".1f"),
        harness.Figure("all relayed (s)", harness.of_leg(service, lambda s: s.relayed), ".1f"),
        *(
            harness.Figure(
                f"CPU ms/event {name}",
                harness.of_leg(leg, _cpu_ms(name)),
                ".3f",
            )
            for leg, name in ((service, "billing"), (service, "customers"), (raw, "raw"))
        ),
    ]
    return harness.ab_table(results, ["due"], {"": [str(count)]}, figures, "r")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--subscriptions", type=int, default=int(os.environ.get("BENCH_SUBSCRIPTIONS", 10_000))
    )
    harness.add_ab_arguments(parser)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    harness.run_ab(
        "expiry",
        args,
        f"{args.subscriptions} due",
        run_backend,
        lambda results: (
            "Month end: due subscriptions expired",
            f"{table(results, args.subscriptions)}\n\n"
            f"Median (min-max) of {args.runs} runs, service and raw legs alternated.\n"
            "Service: from POST /scheduler/tick on billing until GET /customers?status_group="
            "active on\nthe customers service is empty (every customer expired in the list); the "
            "scheduler pass is\nwhen the tick answered, all relayed when billing's outbox had "
            "nothing left to publish.\nRaw: one UPDATE .. RETURNING of the due rows in billing's "
            "database, one message per customer\n(idempotent producer), aiokafka getmany and one "
            f"UPDATE per batch of {args.batch_size} into customers'\ndatabase, one offset commit "
            "per batch; raw / service = raw seconds / service seconds.\nCPU ms/event: "
            "user+system time of the process (/proc/<pid>/stat) / due subscriptions.\n",
        ),
    )


if __name__ == "__main__":
    main()
