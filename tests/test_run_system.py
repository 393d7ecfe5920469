"""`make run` keeps the system up: a crashed process is started again with a growing back-off,
and the rest of the system (the broker included) keeps running meanwhile."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from deploy.local.kafka import REPO_ROOT, free_port
from deploy.local.processes import DEFAULT_PORTS
from deploy.local.supervisor import MAX_BACKOFF_SECONDS, STABLE_SECONDS, Supervisor, backoff_seconds


class FakeProcess:
    def __init__(self, name: str, *, fails_to_start: int = 0) -> None:
        self.name = name
        self.running = True
        self.starts = 0
        self.fails_to_start = fails_to_start

    def alive(self) -> bool:
        return self.running

    def exit_code(self) -> int | None:
        return None if self.running else -9

    def restart(self) -> None:
        self.starts += 1
        if self.fails_to_start:
            self.fails_to_start -= 1
            raise RuntimeError("exited while starting\nlog tail ...")
        self.running = True


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def settle(supervisor: Supervisor) -> None:
    deadline = time.monotonic() + 5
    while supervisor.busy() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not supervisor.busy()


def test_the_back_off_doubles_up_to_its_limit() -> None:
    assert [backoff_seconds(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert backoff_seconds(50) == MAX_BACKOFF_SECONDS


def test_a_crashed_process_is_started_again_after_its_back_off_and_others_are_left_alone() -> None:
    clock = Clock()
    said: list[str] = []
    billing, gateway = FakeProcess("billing"), FakeProcess("gateway")
    supervisor = Supervisor([billing, gateway], say=said.append, clock=clock)

    billing.running = False
    supervisor.check()
    assert said == ["billing stopped unexpectedly (exit code -9); starting it again in 1 s"]
    assert billing.starts == 0  # not before its back-off

    clock.now += 1
    supervisor.check()
    settle(supervisor)
    assert billing.starts == 1 and billing.alive()
    assert said[-1] == "billing is ready again"
    assert gateway.starts == 0
    assert supervisor.restarts == {"billing": 1, "gateway": 0}


def test_a_process_that_keeps_crashing_waits_longer_each_time_until_it_stays_up() -> None:
    clock = Clock()
    said: list[str] = []
    billing = FakeProcess("billing", fails_to_start=2)
    supervisor = Supervisor([billing], say=said.append, clock=clock)

    billing.running = False
    for _ in range(3):
        supervisor.check()
        clock.now += MAX_BACKOFF_SECONDS
        supervisor.check()
        settle(supervisor)
    assert billing.starts == 3 and billing.alive()
    delays = [line.rsplit(" in ", 1)[1] for line in said if "stopped unexpectedly" in line]
    assert delays == ["1 s", "2 s", "4 s"]
    assert said.count("billing did not come back: exited while starting") == 2

    # Up for a while: the next crash starts the back-off anew.
    clock.now += STABLE_SECONDS
    billing.running = False
    supervisor.check()
    assert said[-1].endswith("starting it again in 1 s")


def _pids_of(module: str, data_dir: Path) -> list[int]:
    """Processes running `python -m module` whose DATA_DIR is `data_dir` (ours, not a
    neighbour test's)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if module.encode() in cmdline and f"DATA_DIR={data_dir}".encode() in environ:
            found.append(int(entry.name))
    return found


@pytest.mark.kafka
@pytest.mark.system
def test_make_run_starts_a_killed_service_again_and_keeps_the_rest_running(
    kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    ports = {name: free_port() for name in DEFAULT_PORTS}
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": f"t{uuid.uuid4().hex[:8]}.",
        "ADMIN_PASSWORD": "run-system-test-pw",
        **{f"{name.upper()}_PORT": str(port) for name, port in ports.items()},
    }
    output = tmp_path / "run.out"
    with output.open("wb") as out:
        runner = subprocess.Popen(
            [sys.executable, "-m", "deploy.local.run_system", "--run-dir", str(tmp_path / "run")],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def wait_for(text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while text not in output.read_text(errors="replace"):
            assert runner.poll() is None, output.read_text(errors="replace")
            assert time.monotonic() < deadline, f"no {text!r} in:\n{output.read_text()}"
            time.sleep(0.2)

    try:
        wait_for("The system is up.")
        data_dir = tmp_path / "run" / "data"
        [billing_pid] = _pids_of("services.billing.app", data_dir)
        os.kill(billing_pid, signal.SIGKILL)

        wait_for("billing stopped unexpectedly (exit code -9)")
        wait_for("billing is ready again")
        assert runner.poll() is None  # the runner, and with it Kafka and the rest, still run
        [new_pid] = _pids_of("services.billing.app", data_dir)
        assert new_pid != billing_pid
        billing = httpx.get(f"http://127.0.0.1:{ports['billing']}/readyz", timeout=5)
        gateway = httpx.get(f"http://127.0.0.1:{ports['gateway']}/readyz", timeout=5)
        assert billing.status_code == 200 and gateway.status_code == 200
    finally:
        runner.send_signal(signal.SIGTERM)
        try:
            runner.wait(60)
        except subprocess.TimeoutExpired:
            runner.kill()
    assert "stopped." in output.read_text()
