"""Starts the four services and the gateway as processes, one log each: used by `make run`, by
the system tests and by the benchmark, so all three run the system the same way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SERVICES = ("customers", "billing", "tickets", "activity")
DEFAULT_PORTS = {
    "customers": 8101,
    "billing": 8102,
    "tickets": 8103,
    "activity": 8104,
    "gateway": 8000,
}


@dataclass
class ServiceProcess:
    name: str
    module: str
    port: int
    env: dict[str, str]
    log_file: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in a terminal reaches the runner, not each child
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def exit_code(self) -> int | None:
        """How the process ended (negative: killed by that signal); None while it runs."""
        return None if self.process is None else self.process.poll()

    def restart(self, timeout: float = 90.0) -> None:
        """Start a process that has ended again, and wait until it is ready."""
        self.stop()
        self.start()
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited; see {self.log_file}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready in {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, grace: float = 15.0) -> None:
        if not self.alive():
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine dies."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def service_processes(
    *,
    kafka_bootstrap_servers: str,
    data_dir: Path,
    log_dir: Path,
    ports: Mapping[str, int] | None = None,
    database_urls: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    with_gateway: bool = True,
    replica: str = "",
    process_env: Mapping[str, Mapping[str, str]] | None = None,
) -> list[ServiceProcess]:
    """The processes of the system, configured through the same env vars an operator uses
    (`<NAME>_PORT` in the environment moves a process; `ports` given here win).
    `process_env` adds variables to one process only, by name ("billing": its Kafka user).

    A `replica` name ("a") goes into each process's name and log file (`billing-a`), so two
    sets of the system can run side by side on their own ports (the local cluster)."""
    from_env = {
        name: int(os.environ[f"{name.upper()}_PORT"])
        for name in DEFAULT_PORTS
        if os.environ.get(f"{name.upper()}_PORT", "").isdigit()
    }
    ports = {**DEFAULT_PORTS, **from_env, **(ports or {})}
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
        "DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
        **{f"{name.upper()}_PORT": str(port) for name, port in ports.items()},
        **{f"{name.upper()}_URL": f"http://127.0.0.1:{ports[name]}" for name in SERVICES},
        **{f"{name.upper()}_DATABASE_URL": url for name, url in (database_urls or {}).items()},
        **(extra_env or {}),
    }
    suffix = f"-{replica}" if replica else ""

    def env_of(name: str) -> dict[str, str]:
        return {**env, **(process_env or {}).get(name, {})}

    processes = [
        ServiceProcess(
            f"{name}{suffix}",
            f"services.{name}.app",
            ports[name],
            env_of(name),
            log_dir / f"{name}{suffix}.log",
        )
        for name in SERVICES
    ]
    if with_gateway:
        processes.append(
            ServiceProcess(
                f"gateway{suffix}",
                "gateway.app",
                ports["gateway"],
                env_of("gateway"),
                log_dir / f"gateway{suffix}.log",
            )
        )
    return processes


def start_all(processes: list[ServiceProcess], timeout: float = 90.0) -> None:
    for process in processes:
        process.start()
    try:
        for process in processes:
            process.wait_ready(timeout)
    except BaseException:
        stop_all(processes)
        raise


def stop_all(processes: list[ServiceProcess]) -> None:
    for process in reversed(processes):
        process.stop()
