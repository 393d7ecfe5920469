"""The alert rules in deploy/prometheus: promtool accepts them, its rule unit tests pass (each
alert fires on the series it is meant for and stays quiet otherwise), and every metric they
query is one the services or the gateway expose."""

import re
import shutil
import subprocess
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import gateway.metrics
import services.runtime.metrics

RULES_DIR = Path(__file__).resolve().parents[1] / "deploy" / "prometheus"
# Names that end like the metrics we define; PromQL functions and labels never do.
METRIC_NAME = re.compile(r"\b[a-z_]+(?:_total|_seconds|_seconds_bucket|_backlog)\b")


def _promtool() -> str:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: deploy/local/install-prerequisites.sh installs it"
    return promtool


def _run(*args: str) -> str:
    result = subprocess.run(
        [_promtool(), *args], cwd=RULES_DIR, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_promtool_accepts_the_rules() -> None:
    assert "SUCCESS" in _run("check", "rules", "alerts.yml")


def test_each_alert_fires_in_promtools_rule_tests() -> None:
    _run("test", "rules", "alerts_test.yml")


def test_every_metric_the_rules_query_is_exposed() -> None:
    assert services.runtime.metrics and gateway.metrics  # their metrics are registered
    rules = yaml.safe_load((RULES_DIR / "alerts.yml").read_text())
    expressions = [r["expr"] for group in rules["groups"] for r in group["rules"]]
    queried = {name for expr in expressions for name in METRIC_NAME.findall(expr)}
    exposed = set(REGISTRY._names_to_collectors)
    assert queried, "no metric found in the rules"
    assert queried <= exposed, f"not exposed: {sorted(queried - exposed)}"
