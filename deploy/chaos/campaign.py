"""One campaign: start the cluster (own brokers and PostgreSQL, free ports), run the workload
for `duration` seconds while the schedule's faults are injected, heal, check, report.

Every loop is bounded: the workload stops once the last scheduled fault has ended (on a busy
machine a process or broker comes back slowly, so faults may run late: the lanes get the
duration plus `FAULT_GRACE_SECONDS`), an operation in flight gets its own bounded retries,
the checker's wait for lag 0 is bounded too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from deploy.chaos import checker, report
from deploy.chaos.faults import Nemesis
from deploy.chaos.history import History, read_history
from deploy.chaos.schedule import Fault, Schedule, plan
from deploy.chaos.workload import Apps, Operator, Webshop
from deploy.local.cluster import DATABASES, REPLICAS, ClusterPorts, LocalCluster

ADMIN: Final = ("admin", "chaos-campaign-admin-pw")
FAULT_GRACE_SECONDS: Final = 240.0
WATCH_SECONDS: Final = 2.0


@dataclass(frozen=True)
class CampaignConfig:
    run_dir: Path
    seed: int = 1
    duration: float = 300.0
    short: bool = False
    order_rate: float = 4.0
    operator_rate: float = 1.0
    app_rate: float = 8.0
    check_wait: float = 180.0
    broker_heap: str = "384m"
    docs: Path | None = None
    command: str = "python -m deploy.chaos"


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _cluster(config: CampaignConfig, fault_dir: Path) -> LocalCluster:
    return LocalCluster(
        run_dir=config.run_dir,
        ports=ClusterPorts.free(),
        broker_heap=config.broker_heap,
        # The campaign kills PostgreSQL: a commit it acknowledged must survive that.
        durable_postgres=True,
        extra_env={
            "ADMIN_USERNAME": ADMIN[0],
            "ADMIN_PASSWORD": ADMIN[1],
            "FAULT_INJECTION_DIR": str(fault_dir),
            "OUTBOX_RELAY_INTERVAL_SECONDS": "0.1",
            # A write whose process was killed holds its Idempotency-Key this long (60 s by
            # default) before the operator's retry may take it over.
            "IDEMPOTENCY_LEASE_SECONDS": "10",
        },
    )


def _kafka_options(cluster: LocalCluster) -> dict[str, Any]:
    """The cluster's Kafka admin credentials, for the campaign's own clients."""
    return dict(cluster.kafka_client_options)


def _runner(nemesis: Nemesis, fault: Fault) -> Callable[[], None]:
    p = fault.params
    match fault.kind:
        case "kill_process":
            return lambda: nemesis.kill_process(p["target"], p["pause"])
        case "kill_relay":
            return lambda: nemesis.kill_relay(p["service"])
        case "broker_kill" | "broker_pause":
            how = "kill" if fault.kind == "broker_kill" else "pause"
            return lambda: nemesis.broker_fault(
                how, p.get("node_id"), p["down"], p.get("partition")
            )
        case "postgres_stop":
            return lambda: nemesis.stop_postgres(p["down"])
        case "scale_group":
            return lambda: nemesis.scale_group(p["service"], p["hold"])
        case "poison":
            return lambda: nemesis.poison(p["per_kind"])
    raise ValueError(f"unknown fault {fault.kind!r}")


async def _lane(nemesis: Nemesis, faults: list[Fault], began: float) -> None:
    """One fault at a time, each at its time, or at once when the one before ran late (a
    broker comes back slowly on a busy machine): every fault is injected."""
    loop = asyncio.get_running_loop()
    for fault in faults:
        delay = began + fault.at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await asyncio.to_thread(_runner(nemesis, fault))


async def _every_few_seconds(nemesis: Nemesis, faults: list[Fault], began: float) -> None:
    """Each fault at its time without waiting for the one before to be whole again (a killed
    replica takes far longer to start than the few seconds between kills); a replica that is
    still down is skipped."""
    loop = asyncio.get_running_loop()
    running = []
    for fault in faults:
        delay = began + fault.at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        running.append(asyncio.create_task(asyncio.to_thread(_runner(nemesis, fault))))
    await asyncio.gather(*running)


async def _watch(nemesis: Nemesis, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await asyncio.to_thread(nemesis.watch)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=WATCH_SECONDS)


async def _bounded(work: Awaitable[Any], seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(work, seconds)


async def run(config: CampaignConfig) -> dict[str, Any]:
    """The campaign; returns the checker's report (also in run_dir/report.json)."""
    started = time.monotonic()
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_before = _load()
    shutil.rmtree(config.run_dir, ignore_errors=True)
    config.run_dir.mkdir(parents=True)
    fault_dir = config.run_dir / "faults"
    fault_dir.mkdir()
    schedule: Schedule = plan(config.seed, config.duration, short=config.short)
    (config.run_dir / "schedule.json").write_text(json.dumps(schedule.to_json(), indent=2))
    history = History(config.run_dir)
    cluster = _cluster(config, fault_dir)
    # The clients' complaints while a broker is away (many a second) go to a file of their own.
    log = logging.FileHandler(config.run_dir / "campaign.log")
    log.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(log)
    try:
        history.record("campaign", "event", "cluster_starting", seed=config.seed)
        await asyncio.to_thread(cluster.start, 600)
        assert cluster.postgres is not None
        info = checker.ClusterInfo(
            bootstrap_servers=cluster.kafka.bootstrap_servers,
            gateways={r: cluster.gateway_url(r) for r in REPLICAS},
            databases={name: cluster.postgres.url(name) for name in DATABASES},
            admin=ADMIN,
            kafka_options=_kafka_options(cluster),
        )
        info.save(config.run_dir)
        kafka = info.kafka
        history.record("campaign", "event", "workload_starting", schedule=schedule.counts())
        nemesis = Nemesis(cluster, history, fault_dir, kafka)
        stop = asyncio.Event()
        apps = Apps(history, kafka, seed=config.seed, rate=config.app_rate)
        clients = [
            Webshop(
                history,
                kafka,
                seed=config.seed,
                rate=config.order_rate,
                renewals=0.35,
            ).run(stop),
            *(
                Operator(
                    history,
                    {r: cluster.gateway_url(r) for r in REPLICAS},
                    home,
                    ADMIN,
                    seed=config.seed,
                    rate=config.operator_rate,
                    on_customer=apps.add_customer,
                ).run(stop)
                for home in REPLICAS
            ),
            apps.run(stop),
        ]
        workload = [asyncio.create_task(c) for c in clients]
        began = asyncio.get_running_loop().time()
        lanes = [
            asyncio.create_task(_every_few_seconds(nemesis, schedule.small, began)),
            asyncio.create_task(_lane(nemesis, schedule.big, began)),
        ]
        watcher = asyncio.create_task(_watch(nemesis, stop))
        # The workload runs until the last fault was injected and has ended.
        await _bounded(asyncio.gather(*lanes), config.duration + FAULT_GRACE_SECONDS)
        stop.set()
        history.record("campaign", "event", "workload_stopping")
        await watcher
        # The clients finish their operations in flight while everything is made whole.
        await asyncio.gather(
            asyncio.to_thread(nemesis.heal), _bounded(asyncio.gather(*workload), 120)
        )
        for task in (*workload, *lanes):
            task.cancel()
        history.record("campaign", "event", "checking")
        result = await checker.check(config.run_dir, wait=config.check_wait)
    finally:
        history.close()
        await asyncio.to_thread(cluster.stop)
        logging.getLogger().removeHandler(log)
        log.close()
    meta = {
        "command": config.command,
        "started": started_at,
        "seed": config.seed,
        "duration": config.duration,
        "wall_seconds": time.monotonic() - started,
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "load_after": _load(),
    }
    section = report.render(result, list(read_history(config.run_dir)), meta)
    (config.run_dir / "report.md").write_text(section)
    if config.docs is not None:
        report.update_docs(config.docs, section)
    return result
