"""The fault campaign's short version (CI): about 75 s of faults on a cluster of its own (three
brokers, its own PostgreSQL that it stops, two replicas of everything, free ports, temporary
directories), with at least one of each cheap fault: a replica SIGKILLed, a relay SIGKILLed
between the broker's acknowledgement and the outbox mark, the leader of a busy partition
SIGKILLed, PostgreSQL stopped immediately for 10 s, a flood of poison records. Then the checker
must find every target met (docs/reliability.md says what each means)."""

from __future__ import annotations

import json
from pathlib import Path

from deploy.chaos.campaign import CampaignConfig, run
from deploy.chaos.history import read_history
from deploy.chaos.report import faults_injected
from deploy.local.kafka import REPO_ROOT

SEED = 11


async def test_a_short_fault_campaign_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    run_dir = REPO_ROOT / "test-artifacts" / "system" / f"chaos-{tmp_path.name}"
    report = await run(
        CampaignConfig(
            run_dir=run_dir,
            seed=SEED,
            duration=75,
            short=True,
            check_wait=90,
            command=f"pytest tests/system/test_chaos.py (seed {SEED}, 75 s, --short)",
        )
    )
    injected = faults_injected(read_history(run_dir))
    for kind in ("kill_process", "kill_relay", "broker_kill", "postgres_stop", "poison"):
        assert kind in injected and injected[kind]["started"] >= 1, (kind, injected)
    # A relay killed after the broker's acknowledgement publishes its batch again.
    relay_kills = injected["kill_relay"]["started"] - injected["kill_relay"]["not triggered"]
    if relay_kills:
        assert report["counts"]["duplicates_on_topics"] >= 1, report["duplicates_by_topic"]
    sizes = report["workload"]
    assert sizes["orders_acknowledged"] > 0 and sizes["operator_create_ok"] > 0, sizes
    assert report["passed"], json.dumps(
        {k: report[k] for k in ("counts", "met", "examples", "quiet_check")}, indent=2
    )
