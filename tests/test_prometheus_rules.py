"""The alert rules in deploy/prometheus and the Grafana dashboard: promtool accepts the rules,
its rule unit tests pass (each alert fires on the series it is meant for and stays quiet
otherwise), and every metric the rules and the dashboard query is one the services or the
gateway expose."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import gateway.metrics
import services.runtime.metrics
from deploy.local.processes import DEFAULT_PORTS
from deploy.local.prometheus import MAKE_RUN_CONFIG, rules_with_durations, scrape_config

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
RULES_DIR = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "tvcm.json"
# Names that end like the metrics we define; PromQL functions and labels never do.
METRIC_NAME = re.compile(r"\b[a-z_]+(?:_total|_seconds|_seconds_bucket|_backlog|_lag)\b")


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


def _rule_expressions() -> list[str]:
    rules = yaml.safe_load((RULES_DIR / "alerts.yml").read_text())
    return [r["expr"] for group in rules["groups"] for r in group["rules"]]


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def test_every_metric_the_rules_and_the_dashboard_query_is_exposed() -> None:
    assert services.runtime.metrics and gateway.metrics  # their metrics are registered
    expressions = _rule_expressions() + dashboard_expressions()
    queried = {name for expr in expressions for name in METRIC_NAME.findall(expr)}
    exposed = set(REGISTRY._names_to_collectors)
    assert queried, "no metric found in the rules"
    assert queried <= exposed, f"not exposed: {sorted(queried - exposed)}"


def test_the_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    # promtool checks PromQL inside rules: each panel's query as a recording rule.
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:panel{i}", "expr": expr}
                    for i, expr in enumerate(dashboard_expressions())
                ],
            }
        ]
    }
    checked = tmp_path / "dashboard-queries.yml"
    checked.write_text(yaml.safe_dump(rules))
    _run("check", "rules", str(checked))


def test_make_runs_prometheus_config_scrapes_every_process_with_the_rules() -> None:
    assert "SUCCESS" in _run("check", "config", "prometheus.yml")
    config = yaml.safe_load(MAKE_RUN_CONFIG.read_text())
    assert config == scrape_config(DEFAULT_PORTS, rule_files=["alerts.yml"])


def test_a_tests_copy_of_the_rules_changes_only_their_durations() -> None:
    rules = yaml.safe_load((RULES_DIR / "alerts.yml").read_text())
    short = rules_with_durations(rules, hold="5s", window="20s")
    [lag] = [r for g in short["groups"] for r in g["rules"] if r["alert"] == "ConsumerLagGrowing"]
    assert lag["for"] == "5s"
    assert "deriv(consumer_lag[20s])" in lag["expr"] and "> 1000" in lag["expr"]
    unchanged = [
        {key: value for key, value in rule.items() if key not in ("for", "expr")}
        for group in (rules, short)
        for g in group["groups"]
        for rule in g["rules"]
    ]
    half = len(unchanged) // 2
    assert unchanged[:half] == unchanged[half:]
