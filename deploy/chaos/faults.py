"""The nemesis: each fault of the campaign, on a running `LocalCluster`, recorded as a `start`
and a `stop` in the history (what, which process or broker, how long it was down).

Faults block until the system is whole again (a killed process is started again after its
pause and is ready, a broker is back in the quorum, PostgreSQL accepts connections), so the
campaign runs each in a thread. A process that dies without being told to is restarted by
`watch()`, as the supervisor of `make cluster` would, and recorded as a `crashed` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from deploy.chaos.history import History
from deploy.chaos.kafka_clients import KafkaClients
from deploy.local.cluster import LocalCluster, unused_port
from deploy.local.processes import ServiceProcess
from services.contracts.topics import APPS_EVENTS, WEBSHOP_ORDERS
from services.runtime.fault_injection import relay_crash_trigger

NEMESIS: Final = "nemesis"
READY_SECONDS: Final = 180.0
# Large enough to be refused by any schema, small enough for the broker's 1 MB record limit.
OVERSIZED_BYTES: Final = 300_000


@dataclass
class Nemesis:
    cluster: LocalCluster
    history: History
    fault_dir: Path
    kafka: KafkaClients
    # Processes down on purpose (or being started again): the watchdog leaves them alone.
    held: set[str] = field(default_factory=set)
    extras: list[ServiceProcess] = field(default_factory=list)
    crashes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _start(self, fault: str, **value: Any) -> float:
        self.history.record(NEMESIS, "start", fault, **value)
        return time.monotonic()

    def _stop(self, fault: str, began: float, **value: Any) -> None:
        self.history.record(
            NEMESIS, "stop", fault, seconds=round(time.monotonic() - began, 2), **value
        )

    def _back_up(self, process: ServiceProcess) -> str:
        """Start `process` again until it is ready, as a supervisor would: a start that fails
        (its database is away: another fault) is tried again, within READY_SECONDS."""
        deadline = time.monotonic() + READY_SECONDS
        failed = 0
        while True:
            try:
                process.start()
                process.wait_ready(max(1.0, deadline - time.monotonic()))
            except Exception as error:
                failed += 1
                process.kill()
                if time.monotonic() >= deadline:
                    return f"not ready: {str(error).splitlines()[0]}"
                time.sleep(2.0)
                continue
            return "ready" if not failed else f"ready after {failed} failed starts"

    # ---- processes ------------------------------------------------------------------------

    def _claim(self, *names: str) -> bool:
        """Hold `names` unless one of them is held already (down, or being started again)."""
        with self._lock:
            if self.held.intersection(names):
                return False
            self.held.update(names)
            return True

    def _release(self, *names: str) -> None:
        with self._lock:
            self.held.difference_update(names)

    def kill_process(self, name: str, pause: float) -> None:
        """SIGKILL one replica (a service's or a gateway's), started again after `pause` s;
        skipped while that replica is down from another fault."""
        process = next(p for p in self.cluster.processes if p.name == name)
        if not self._claim(name):
            self.history.record(NEMESIS, "event", "skipped", fault="kill_process", target=name)
            return
        try:
            began = self._start("kill_process", target=name, pid=_pid(process))
            process.kill()
            time.sleep(pause)
            outcome = self._back_up(process)
            self._stop("kill_process", began, target=name, outcome=outcome)
        finally:
            self._release(name)

    def kill_relay(self, service: str, wait: float = 30.0) -> None:
        """The relay of one of `service`'s replicas SIGKILLs itself between the broker's
        acknowledgement and the deletion of the rows (services/runtime/fault_injection.py)."""
        replicas = [p for p in self.cluster.processes if p.name.startswith(f"{service}-")]
        names = [p.name for p in replicas]
        trigger = relay_crash_trigger(self.fault_dir, service)
        if not self._claim(*names):
            self.history.record(NEMESIS, "event", "skipped", fault="kill_relay", target=service)
            return
        try:
            self._relay_fault(service, replicas, trigger, wait)
        finally:
            self._release(*names)

    def _relay_fault(
        self, service: str, replicas: list[ServiceProcess], trigger: Path, wait: float
    ) -> None:
        began = self._start("kill_relay", target=service)
        trigger.touch()
        deadline = time.monotonic() + wait
        while trigger.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if trigger.exists():  # nothing to publish in time: no fault after all
            trigger.unlink(missing_ok=True)
            self._stop("kill_relay", began, target=service, outcome="not triggered")
            return
        time.sleep(0.5)  # the SIGKILL follows the removal at once
        dead = [p for p in replicas if not p.alive()]
        time.sleep(1.0)
        outcomes = [self._back_up(p) for p in dead]
        self._stop(
            "kill_relay",
            began,
            target=service,
            killed=[p.name for p in dead],
            outcome=",".join(outcomes),
        )

    def scale_group(self, service: str, hold: float) -> None:
        """`service`'s consumer group 1 -> 3 -> 1 with hard stops: replica b SIGKILLed, two
        extra replicas started, held, SIGKILLed; then replica b started again."""
        a, b = (self.cluster.process(service, r) for r in ("a", "b"))
        deadline = time.monotonic() + READY_SECONDS
        while not self._claim(b.name):  # replica b is down from another fault: wait for it
            if time.monotonic() > deadline:
                return
            time.sleep(0.5)
        try:
            began = self._start("scale_group", target=service, members=[1, 3, 1])
            b.kill()
            taken: set[int] = set()
            extras = []
            for number in (1, 2):
                port = unused_port(taken)
                env = {**a.env, f"{service.upper()}_PORT": str(port)}
                extra = ServiceProcess(
                    f"{service}-x{number}",
                    a.module,
                    port,
                    env,
                    a.log_file.with_name(f"{service}-x{number}.log"),
                )
                extras.append(extra)
            with self._lock:
                self.extras += extras
            for extra in extras:
                extra.start()
            ready = [self._wait(extra) for extra in extras]
            time.sleep(hold)
            for extra in extras:
                extra.kill()
            time.sleep(hold / 2)
            outcome = self._back_up(b)
            self._stop("scale_group", began, target=service, extras=ready, outcome=outcome)
        finally:
            self._release(b.name)

    def _wait(self, process: ServiceProcess) -> str:
        try:
            process.wait_ready(READY_SECONDS)
        except Exception as error:
            return f"not ready: {str(error).splitlines()[0]}"
        return "ready"

    def watch(self) -> None:
        """Restart a process that died unasked (recorded as `crashed`)."""
        for process in self.cluster.processes:
            with self._lock:
                if process.name in self.held or process.alive():
                    continue
                self.held.add(process.name)
                self.crashes += 1
            self.history.record(
                NEMESIS, "event", "crashed", target=process.name, exit_code=process.exit_code()
            )
            threading.Thread(target=self._restart_crashed, args=(process,), daemon=True).start()

    def _restart_crashed(self, process: ServiceProcess) -> None:
        try:
            outcome = self._back_up(process)
            self.history.record(NEMESIS, "event", "restarted", target=process.name, outcome=outcome)
        finally:
            with self._lock:
                self.held.discard(process.name)

    # ---- brokers --------------------------------------------------------------------------

    def busy_leader(self, topic: str, partition: int) -> int:
        """The broker leading `topic`'s `partition` now, asked of the cluster's admin API."""

        async def ask() -> int:
            admin = self.kafka.admin()
            await admin.start()
            try:
                [described] = await admin.describe_topics([topic])
            finally:
                await admin.close()
            return int(
                next(p["leader"] for p in described["partitions"] if p["partition"] == partition)
            )

        return asyncio.run(ask())

    def broker_fault(
        self, how: str, node_id: int | None, down: float, partition: int | None = None
    ) -> None:
        """`how` = "kill" (SIGKILL, then started again on its data) or "pause" (SIGSTOP, then
        SIGCONT); `node_id` None: the leader of webshop.orders' `partition`."""
        leader_of = None
        if node_id is None:
            assert partition is not None
            node_id = self.busy_leader(WEBSHOP_ORDERS, partition)
            leader_of = f"{WEBSHOP_ORDERS}[{partition}]"
        node = self.cluster.kafka.node(node_id)
        fault = f"broker_{how}"
        began = self._start(fault, target=f"kafka-{node_id}", leader_of=leader_of, pid=node.pid)
        if how == "kill":
            node.kill()
            time.sleep(down)
            try:
                node.start(timeout=READY_SECONDS)
                outcome = "ready"
            except Exception as error:
                outcome = f"not ready: {str(error).splitlines()[0]}"
        else:
            assert node.pid is not None
            os.killpg(node.pid, signal.SIGSTOP)
            time.sleep(down)
            os.killpg(node.pid, signal.SIGCONT)
            outcome = "resumed"
        self._stop(fault, began, target=f"kafka-{node_id}", leader_of=leader_of, outcome=outcome)

    # ---- PostgreSQL -----------------------------------------------------------------------

    def stop_postgres(self, down: float) -> None:
        """`pg_ctl stop -m immediate`, started again after `down` s; the services are NOT
        restarted: they must find the database again on their own."""
        postgres = self.cluster.postgres
        assert postgres is not None, "the campaign runs its own PostgreSQL"
        began = self._start("postgres_stop", target="postgres", mode="immediate")
        postgres.crash()
        time.sleep(down)
        postgres.start(timeout=READY_SECONDS)
        self._stop("postgres_stop", began, target="postgres", outcome="accepting connections")

    # ---- poison ---------------------------------------------------------------------------

    def poison(self, per_kind: int) -> None:
        """Malformed JSON, schema-violating and oversized records onto the consumed topics."""
        began = self._start("poison", per_kind=per_kind)
        sent = asyncio.run(self._flood(per_kind))
        self._stop("poison", began, sent=sent)

    async def _flood(self, per_kind: int) -> int:
        producer = self.kafka.producer()
        await producer.start()
        sent = 0
        try:
            for topic in (WEBSHOP_ORDERS, APPS_EVENTS):
                for kind in ("malformed", "schema", "oversized"):
                    for _ in range(per_kind):
                        key = f"poison-{kind}-{uuid.uuid4().hex[:12]}"
                        value = poison_record(topic, kind, key)
                        try:
                            await asyncio.wait_for(
                                producer.send_and_wait(topic, value, key=key.encode()), 45
                            )
                        except Exception as error:
                            self.history.record(
                                "poisoner",
                                "info",
                                "poison",
                                topic=topic,
                                key=key,
                                error=repr(error),
                            )
                            continue
                        sent += 1
                        self.history.record(
                            "poisoner", "ok", "poison", topic=topic, key=key, kind=kind
                        )
        finally:
            await producer.stop()
        return sent

    # ---- the end --------------------------------------------------------------------------

    def heal(self) -> None:
        """Everything running again: brokers continued or started, PostgreSQL up, the extra
        replicas gone, every process alive."""
        began = self._start("heal")
        # A fault still bringing its victim back is let finish: two starts of one process
        # would leave one of them running unwatched.
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            with self._lock:
                if not self.held:
                    break
            time.sleep(0.5)
        for node in self.cluster.kafka.nodes:
            if node.running and node.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(node.pid, signal.SIGCONT)
            elif not node.running:
                node.start(timeout=READY_SECONDS)
        postgres = self.cluster.postgres
        if postgres is not None:
            postgres.start(timeout=READY_SECONDS)
        for extra in self.extras:
            extra.kill()
        restarted = []
        for process in self.cluster.processes:
            if not process.alive():
                restarted.append(process.name)
                self._back_up(process)
        self._stop("heal", began, restarted=restarted)


def _pid(process: ServiceProcess) -> int | None:
    return None if process.process is None else process.process.pid


def poison_record(topic: str, kind: str, key: str) -> bytes:
    """One record no consumer can handle: not JSON, a CloudEvent whose data breaks its schema,
    or one far beyond any field's limit."""
    if kind == "malformed":
        return b'{"specversion": "1.0", "id": ' + key.encode() + b", not json"
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": key,
        "source": "/chaos/poisoner",
        "subject": key,
        "time": "2026-01-01T00:00:00Z",
    }
    if topic == WEBSHOP_ORDERS:
        event["type"] = "order.paid.v1"
        event["data"] = {"order_id": key, "webshop_id": "shop-eu", "amount": "-5"}
        if kind == "oversized":
            event["data"]["buyer"] = {"email": "x" * OVERSIZED_BYTES}
    else:
        event["type"] = "favorite.added.v1"
        event["data"] = {"customer_id": key, "profile_id": "p", "item_type": "bogus"}
        if kind == "oversized":
            event["data"].update(item_type="channel", item_id="c", title="x" * OVERSIZED_BYTES)
    return json.dumps(event).encode()
