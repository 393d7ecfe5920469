"""`make chaos`: python -m deploy.chaos --seed N --duration S (see docs/reliability.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from deploy.chaos.campaign import CampaignConfig, run
from deploy.local.kafka import REPO_ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.chaos",
        description="A seeded, time-bounded fault campaign on a local cluster of its own "
        "(3 brokers, PostgreSQL, two replicas of everything), then the checker.",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of faults")
    parser.add_argument("--short", action="store_true", help="the CI's fewer faults")
    parser.add_argument("--run-dir", type=Path, default=REPO_ROOT / ".run" / "chaos")
    parser.add_argument("--docs", type=Path, help="write the results table into this file")
    parser.add_argument("--order-rate", type=float, default=4.0, help="orders per second")
    parser.add_argument("--operator-rate", type=float, default=1.0, help="per gateway")
    parser.add_argument("--app-rate", type=float, default=8.0, help="app events per second")
    parser.add_argument("--check-wait", type=float, default=180.0)
    args = parser.parse_args(argv)
    command = " ".join(["python -m deploy.chaos", *(argv if argv is not None else sys.argv[1:])])
    config = CampaignConfig(
        run_dir=args.run_dir,
        seed=args.seed,
        duration=args.duration,
        short=args.short,
        order_rate=args.order_rate,
        operator_rate=args.operator_rate,
        app_rate=args.app_rate,
        check_wait=args.check_wait,
        docs=args.docs,
        command=command,
    )
    report = asyncio.run(run(config))
    print(json.dumps({k: report[k] for k in ("counts", "met", "passed")}, indent=2))
    print(f"history, schedule, logs and report.md in {args.run_dir}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
