"""A real Prometheus (Debian's binary) scrapes the running system: every process is a target and
up, promtool accepts the rules, every metric the dashboard queries is in Prometheus, and the lag
alert fires while a consumer is stopped.

The rules are the deployed ones with their durations shortened for a test (`for:` 5 s, range
selectors 20 s); the expressions and thresholds are unchanged. The processes measure consumer
lag every second and Prometheus scrapes and evaluates every second.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaProducer

from deploy.local.kafka import free_port
from deploy.local.prometheus import (
    RULES,
    LocalPrometheus,
    binary,
    rules_with_durations,
    scrape_config,
    write_yaml,
)
from services.contracts.apps import DeviceHeartbeatV1
from services.contracts.envelope import CloudEvent
from tests.system.conftest import System, Webshop, eventually, order_paid
from tests.test_prometheus_rules import METRIC_NAME, dashboard_expressions

PROCESS_ENV = {"CONSUMER_LAG_INTERVAL_SECONDS": "1"}
# One backend is enough to show Prometheus what every process exposes.
pytestmark = pytest.mark.parametrize("system", ["sqlite"], indirect=True, scope="module")

STOPPED = "activity"
LAG_ALERT = "ConsumerLagGrowing"


@pytest.fixture(scope="module")
def prometheus(system: System) -> Iterator[LocalPrometheus]:
    assert system.log_dir is not None
    home = system.log_dir / "prometheus"
    home.mkdir(parents=True, exist_ok=True)
    rules = rules_with_durations(yaml.safe_load(RULES.read_text()), hold="5s", window="20s")
    write_yaml(home / "alerts.yml", rules)
    ports = {name: process.port for name, process in system.processes.items()}
    write_yaml(
        home / "prometheus.yml", scrape_config(ports, rule_files=["alerts.yml"], interval="1s")
    )
    server = LocalPrometheus(
        home / "prometheus.yml", home / "data", free_port(), home / "prometheus.log"
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def promtool(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        [binary("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


async def wait_for(check: Any, *, timeout: float, what: str) -> Any:
    async def in_thread() -> Any:
        return await asyncio.to_thread(check)

    return await eventually(in_thread, timeout=timeout, what=what)


def test_promtool_accepts_the_config_and_the_rules(prometheus: LocalPrometheus) -> None:
    home = prometheus.config_file.parent
    assert "SUCCESS" in promtool("check", "config", "prometheus.yml", cwd=home)
    assert "SUCCESS" in promtool("check", "rules", str(RULES), cwd=home)


async def test_every_process_is_a_target_and_up(
    system: System, prometheus: LocalPrometheus
) -> None:
    def up() -> dict[str, str] | None:
        targets = prometheus.api("targets")["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        return health if set(health.values()) == {"up"} else None

    health = await wait_for(up, timeout=30, what="every target up")
    assert set(health) == set(system.processes)


async def test_every_metric_the_dashboard_queries_is_in_prometheus(
    system: System, prometheus: LocalPrometheus, webshop: Webshop
) -> None:
    # Work that makes each kind of series: an order through every service, the details page
    # through the gateway, and a record that cannot be parsed (a dead letter).
    order = order_paid()
    await webshop.send(order)
    customer_id = (await webshop.reply_for(order["data"]["order_id"]))["data"]["customer_id"]
    async with system.client() as client:
        assert (await client.get(f"/api/v1/customers/{customer_id}")).status_code == 200
    poison = b"not a cloudevent " + os.urandom(4).hex().encode()
    await webshop.send(poison)
    await webshop.dead_letter(poison)

    queried = {name for expr in dashboard_expressions() for name in METRIC_NAME.findall(expr)}
    assert len(queried) >= 10

    def missing() -> set[str]:
        return {
            name for name in sorted(queried) if not prometheus.api("series", **{"match[]": name})
        }

    def none_missing() -> bool:
        return not missing()

    try:
        await wait_for(none_missing, timeout=30, what="every dashboard metric in Prometheus")
    except AssertionError:
        pytest.fail(f"not in Prometheus: {sorted(missing())}")


async def test_the_lag_alert_fires_while_a_consumer_is_stopped(
    system: System, prometheus: LocalPrometheus
) -> None:
    process = system.processes[STOPPED].process
    assert process is not None
    producer = AIOKafkaProducer(bootstrap_servers=system.kafka, linger_ms=20)
    await producer.start()

    def firing() -> dict[str, Any] | None:
        for alert in prometheus.api("alerts")["alerts"]:
            labels = alert["labels"]
            if (labels["alertname"], labels.get("service"), alert["state"]) == (
                LAG_ALERT,
                STOPPED,
                "firing",
            ):
                return dict(alert)
        return None

    async def app_events(stop: asyncio.Event) -> int:
        # A fleet's heartbeats keep arriving while the consumer cannot read them.
        sent = 0
        while not stop.is_set():
            for _ in range(50):
                customer = f"lag-customer-{sent % 40}"
                data = DeviceHeartbeatV1(
                    customer_id=customer, device_id="stb-1", at=datetime.now(UTC)
                )
                event = CloudEvent.wrap(data, source="/tests/apps", subject=customer)
                await producer.send(
                    system.topic("apps.events"), event.to_bytes(), key=customer.encode()
                )
                sent += 1
            await asyncio.sleep(0.4)
        await producer.flush()
        return sent

    assert firing() is None
    os.kill(process.pid, signal.SIGSTOP)
    stop = asyncio.Event()
    publishing = asyncio.create_task(app_events(stop))
    started = time.monotonic()
    try:
        alert = await wait_for(firing, timeout=90, what=f"{LAG_ALERT} firing for {STOPPED}")
    finally:
        stop.set()
        sent = await publishing
        os.kill(process.pid, signal.SIGCONT)
        await producer.stop()
    took = time.monotonic() - started
    assert alert["labels"]["topic"] == "apps.events"
    assert float(alert["value"]) > 1000
    # Kept for docs/observability.md: the alert as Prometheus' API shows it.
    assert system.log_dir is not None
    (system.log_dir / "lag-alert.json").write_text(
        json.dumps(
            {"seconds_after_stop": round(took, 1), "events_sent": sent, "alert": alert}, indent=2
        )
        + "\n"
    )

    # Running again, the consumer catches up: the alert ends.
    await wait_for(lambda: firing() is None, timeout=60, what=f"{LAG_ALERT} resolved")
