"""The benchmarks' shared harness: what its figures mean must not drift silently."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.bench import harness


@pytest.fixture
def run(tmp_path: Path) -> harness.Bench:
    return harness.Bench("unit", tmp_path, "127.0.0.1:1", None)


def test_legs_alternate_from_one_run_to_the_next(run: harness.Bench) -> None:
    order: list[tuple[int, str, str]] = []

    def measure(number: int, case: str, leg: str) -> float:
        order.append((number, case, leg))
        return float(number)

    series = run.alternate("unit", 3, ("a", "b"), measure, str)

    assert [leg for _, case, leg in order if case == "a"] == [
        *("service", "raw"),
        *("raw", "service"),
        *("service", "raw"),
    ]
    # Each series in run order, whichever leg went first.
    assert series[("b", "raw")] == [0.0, 1.0, 2.0]
    assert len(run.loads) == 1 + 12  # at the start, then after every leg


def test_median_and_spread_and_percentiles() -> None:
    assert harness.median_spread([3.0, 1.0, 2.0], ".1f") == "2.0 (1.0-3.0)"
    seconds = [n / 1000 for n in range(1, 101)]
    assert harness.percentile_ms(seconds, 0.5) == pytest.approx(51.0)
    assert harness.percentile_ms(seconds, 0.95) == pytest.approx(95.0)
    assert harness.percentile_ms(seconds, 0.99) == pytest.approx(99.0)


def test_an_ab_table_pairs_the_legs_of_each_run() -> None:
    series: harness.Series[float] = {("x", "service"): [2.0, 9.0], ("x", "raw"): [4.0, 3.0]}
    figures: list[harness.Figure[float]] = [
        harness.Figure("service", harness.of_leg("service", lambda v: v), ".0f"),
        harness.Figure("share", harness.of_pairs(lambda s, r: s / r), ".1f", "x"),
    ]

    text = harness.ab_table({"sqlite": series}, ["case"], {"x": ["x"]}, figures, "l")

    assert text.splitlines() == [
        "| database | case | service | share |",
        "|---|---|---:|---:|",
        # 2/4 and 9/3 per run, not the median of one over the median of the other.
        "| sqlite | x | 6 (2-9) | 1.8 (0.5-3.0)x |",
    ]


def test_cpu_time_is_read_from_proc_per_unit_of_work() -> None:
    meter = harness.CpuMeter({"self": os.getpid()})
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:
        pass
    # /proc counts in clock ticks, sampled: each of the two readings may lag by one tick, and
    # ticks / CLOCK_TICKS * 1000 is a float (4 ticks read 39.99999... ms, not 40).
    tick_ms = 1000 / harness.CLOCK_TICKS
    assert meter.ms_per(1)["self"] >= 200 - 2 * tick_ms - 1e-6
    assert meter.ms_per(2)["self"] == pytest.approx(meter.ms_per(1)["self"] / 2, abs=tick_ms)


def test_the_report_names_the_machine_and_its_load(
    run: harness.Bench, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(harness, "RESULTS", tmp_path)
    run.report("Title", "body\n")
    text = (tmp_path / "unit.md").read_text()
    assert text.startswith("# Title\n\n")
    assert f"{os.cpu_count()} cores; load average (1 min)" in text
    assert text.endswith("\n\nbody\n")
