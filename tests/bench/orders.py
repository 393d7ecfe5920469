"""`make bench`: webshop orders end to end (order.paid.v1 sent -> customer active and ledger
written, known by the order.accepted.v1 reply) beside the raw limit of the same servers: a plain
aiokafka consumer reading the same messages and doing one INSERT and commit each into the same
database server. Runs on SQLite (the embedded default) and on PostgreSQL; writes a table."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from deploy.local.kafka import REPO_ROOT, LocalKafka, ensure_jars, free_port
from deploy.local.postgres import LocalPostgres
from deploy.local.processes import SERVICES, service_processes, start_all, stop_all
from tests.system.conftest import order_paid


@dataclass
class Result:
    backend: str
    orders: int
    seconds: float
    raw_seconds: float

    @property
    def rate(self) -> float:
        return self.orders / self.seconds

    @property
    def raw_rate(self) -> float:
        return self.orders / self.raw_seconds


async def _send_orders(bootstrap: str, topic: str, count: int) -> list[str]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    order_ids = []
    try:
        for _ in range(count):
            event = order_paid()
            order_ids.append(event["data"]["order_id"])
            await producer.send(
                topic,
                json.dumps(event).encode(),
                key=event["data"]["buyer"]["external_id"].encode(),
            )
        await producer.flush()
    finally:
        await producer.stop()
    return order_ids


async def _await_replies(bootstrap: str, topic: str, order_ids: list[str]) -> None:
    waiting = set(order_ids)
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        while waiting:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    body = json.loads(record.value or b"{}")
                    if body.get("type") != "order.accepted.v1":
                        raise RuntimeError(f"order refused: {body}")
                    waiting.discard(body["data"]["order_id"])
    finally:
        await consumer.stop()


async def _raw_limit(bootstrap: str, topic: str, count: int, database_url: str) -> float:
    """aiokafka reading the same orders, one INSERT + commit and one offset commit each."""
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS raw_order "
                "(event_id VARCHAR(64) PRIMARY KEY, body TEXT NOT NULL)"
            )
        )
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"raw-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    done = 0
    started = time.perf_counter()
    try:
        while done < count:
            record = await consumer.getone()
            body = json.loads(record.value or b"{}")
            async with engine.begin() as conn:
                await conn.execute(
                    text("INSERT INTO raw_order VALUES (:id, :body)"),
                    {"id": body["id"], "body": record.value.decode() if record.value else ""},
                )
            await consumer.commit()
            done += 1
        return time.perf_counter() - started
    finally:
        await consumer.stop()
        await engine.dispose()


def run_backend(
    backend: str, bootstrap: str, count: int, work: Path, postgres: LocalPostgres | None
) -> Result:
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    data_dir = work / backend
    database_urls: dict[str, str] = {}
    raw_url = f"sqlite+aiosqlite:///{data_dir / 'raw.db'}"
    if backend == "postgres":
        assert postgres is not None
        database_urls = {
            name: postgres.create_database(f"{prefix[:-1]}_{name}")
            for name in (*SERVICES, "gateway")
        }
        raw_url = postgres.create_database(f"{prefix[:-1]}_raw")
    data_dir.mkdir(parents=True, exist_ok=True)
    processes = service_processes(
        kafka_bootstrap_servers=bootstrap,
        data_dir=data_dir,
        log_dir=REPO_ROOT / "bench-results" / "logs" / backend,
        ports={name: free_port() for name in (*SERVICES, "gateway")},
        database_urls=database_urls,
        extra_env={
            "KAFKA_TOPIC_PREFIX": prefix,
            "SEED_DEMO_CATALOG": "1",
            "LOG_LEVEL": "WARNING",
            "ADMIN_PASSWORD": uuid.uuid4().hex,
        },
        with_gateway=False,
    )
    start_all(processes)
    try:
        orders_topic, replies_topic = f"{prefix}webshop.orders", f"{prefix}webshop.replies"
        started = time.perf_counter()
        order_ids = asyncio.run(_send_orders(bootstrap, orders_topic, count))
        asyncio.run(_await_replies(bootstrap, replies_topic, order_ids))
        seconds = time.perf_counter() - started
    finally:
        stop_all(processes)
    raw_seconds = asyncio.run(_raw_limit(bootstrap, orders_topic, count, raw_url))
    return Result(backend, count, seconds, raw_seconds)


def table(results: list[Result]) -> str:
    lines = [
        "| database | orders | end to end (s) | orders/s | raw limit (s) | raw inserts/s | share |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.backend} | {r.orders} | {r.seconds:.1f} | {r.rate:.1f} | "
            f"{r.raw_seconds:.1f} | {r.raw_rate:.1f} | {r.rate / r.raw_rate:.0%} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=int(os.environ.get("BENCH_ORDERS", 5000)))
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    out_dir = REPO_ROOT / "bench-results"
    out_dir.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="tvcm-bench-"))
    os.chmod(work, 0o755)
    results = []
    with ExitStack() as stack:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            ensure_jars()
            port = free_port()
            kafka = LocalKafka(
                port=port,
                controller_port=free_port(),
                data_dir=work / "kafka",
                log_file=out_dir / "logs" / "kafka.log",
            )
            kafka.start()
            stack.callback(kafka.stop)
            bootstrap = kafka.bootstrap_servers
        postgres = None
        backends = args.backends.split(",")
        if "postgres" in backends:
            postgres = LocalPostgres(
                port=free_port(), data_dir=work / "pg", log_file=out_dir / "logs" / "postgres.log"
            )
            postgres.start()
            stack.callback(postgres.stop)
        for backend in backends:
            print(f"bench: {args.orders} orders on {backend} ...", flush=True)
            results.append(run_backend(backend, bootstrap, args.orders, work, postgres))
    shutil.rmtree(work, ignore_errors=True)
    report = (
        f"# Order throughput ({time.strftime('%Y-%m-%d %H:%M')}, {platform.node()}, "
        f"{os.cpu_count()} cores)\n\n{table(results)}\n\n"
        "End to end: order.paid.v1 sent to webshop.orders until every order.accepted.v1 is on\n"
        "webshop.replies (customer created and active, subscription opened, ledger written).\n"
        "Raw limit: one aiokafka consumer, one INSERT + commit and one offset commit per order,\n"
        "same broker, same database server.\n"
    )
    (out_dir / "orders.md").write_text(report)
    print("\n" + report)


if __name__ == "__main__":
    main()
