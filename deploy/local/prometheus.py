"""Prometheus in front of a local system: the scrape configuration for its processes' ports, the
alert rules (as they are, or with the durations of a test), and Debian's `prometheus` binary on
a loopback port. Used by `make prometheus` (next to `make run`) and by
tests/system/test_prometheus.py, so both scrape the system the same way.

`python -m deploy.local.prometheus` runs it against `make run`'s ports with
deploy/prometheus/prometheus.yml (which `scrape_config` must reproduce: a test checks it).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from deploy.local.kafka import REPO_ROOT
from deploy.local.processes import DEFAULT_PORTS

RULES_DIR = REPO_ROOT / "deploy" / "prometheus"
RULES = RULES_DIR / "alerts.yml"
MAKE_RUN_CONFIG = RULES_DIR / "prometheus.yml"
DEFAULT_PORT = 9090
# A range selector in PromQL: `[10m]`, `[30s]`.
_RANGE = re.compile(r"\[\d+[smhdwy]\]")


def binary(name: str = "prometheus") -> str:
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(
            f"{name} is missing: deploy/local/install-prerequisites.sh installs Debian's"
            " prometheus package"
        )
    return found


def scrape_config(
    ports: Mapping[str, int],
    *,
    rule_files: Sequence[str],
    interval: str = "15s",
) -> dict[str, Any]:
    """One job per process (its name), each at 127.0.0.1:<port>/metrics; the rules evaluated
    as often as targets are scraped."""
    return {
        "global": {
            "scrape_interval": interval,
            "scrape_timeout": interval,
            "evaluation_interval": interval,
        },
        "rule_files": list(rule_files),
        "scrape_configs": [
            {"job_name": name, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
            for name, port in ports.items()
        ],
    }


def rules_with_durations(rules: Mapping[str, Any], *, hold: str, window: str) -> dict[str, Any]:
    """The same rules with every `for:` set to `hold` and every range selector to `window`,
    the expressions otherwise unchanged: an alert a test can see fire in seconds."""
    groups = []
    for group in rules["groups"]:
        changed = []
        for rule in group["rules"]:
            rule = dict(rule)
            rule["expr"] = _RANGE.sub(f"[{window}]", rule["expr"])
            if "for" in rule:
                rule["for"] = hold
            changed.append(rule)
        groups.append({**group, "rules": changed})
    return {**rules, "groups": groups}


class LocalPrometheus:
    """Prometheus on 127.0.0.1:`port`, its data in `storage`, its log in `log_file`."""

    def __init__(self, config_file: Path, storage: Path, port: int, log_file: Path) -> None:
        self.config_file = config_file
        self.storage = storage
        self.port = port
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            binary(),
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.storage}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]

    def start(self, timeout: float = 30.0) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited; see {self.log_file}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"prometheus not ready in {timeout:.0f}s; see {self.log_file}")

    def api(self, path: str, **params: str) -> Any:
        """The `data` of a successful answer of its HTTP API (`/api/v1/<path>`)."""
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10.0)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    def stop(self, grace: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def main() -> None:
    """Prometheus for `make run`: its processes' default ports, the alert rules as they are."""
    run_dir = REPO_ROOT / ".run"
    prometheus = LocalPrometheus(
        MAKE_RUN_CONFIG, run_dir / "prometheus", DEFAULT_PORT, run_dir / "logs" / "prometheus.log"
    )
    prometheus.start()

    def stop_on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops it as Ctrl-C does, Prometheus with it

    signal.signal(signal.SIGTERM, stop_on_term)
    print(
        f"prometheus on {prometheus.url} scraping {', '.join(DEFAULT_PORTS)}"
        f" (alerts: {prometheus.url}/alerts); log {prometheus.log_file}; Ctrl-C stops it",
        flush=True,
    )
    try:
        assert prometheus.process is not None
        prometheus.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        prometheus.stop()


def write_yaml(path: Path, content: Mapping[str, Any]) -> None:
    path.write_text(yaml.safe_dump(dict(content), sort_keys=False))


if __name__ == "__main__":
    main()
