"""What every benchmark under tests/bench shares, written once: the servers (the shared ones
named by KAFKA_BOOTSTRAP_SERVERS / BENCH_POSTGRES_URL, or local ones started as `make test`
does), legs alternated A/B, B/A, A/B across runs, median (min-max), CPU time per unit of work
from /proc/<pid>/stat, py-spy profiles, markdown tables, and the report in bench-results/<name>.md
headed by the machine and its load (the machine is shared: a figure means little without it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy.engine import make_url

from deploy.local.kafka import REPO_ROOT, LocalKafka, ensure_jars, free_port
from deploy.local.postgres import LocalPostgres

RESULTS = REPO_ROOT / "bench-results"
PARTITIONS = 6
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LEGS = ("service", "raw")

L = TypeVar("L")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime, fields 14 and 15 of stat(5), counted from after the command name.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class CpuMeter:
    """The CPU time processes spend from its creation on, per unit of work (an event, an
    order): what a leg costs, whatever else the machine runs meanwhile."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self.pids = dict(pids)
        self.before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def ms_per(self, units: int) -> dict[str, float]:
        return {
            name: (cpu_seconds(pid) - self.before[name]) * 1000 / units
            for name, pid in self.pids.items()
        }


def record_profile(pid: int, target: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling `pid` at 50 Hz into `target` until `stop_profiles`: raw folded stacks,
    or a speedscope file when `target` does not end in .txt."""
    fmt = "raw" if target.suffix == ".txt" else "speedscope"
    # The venv's py-spy (pinned in the lock), found whether or not the venv is on PATH.
    beside = Path(sys.executable).parent / "py-spy"
    py_spy = str(beside) if beside.exists() else "py-spy"
    command = [py_spy, "record", "--pid", str(pid), "--rate", "50", "--format", fmt]
    return subprocess.Popen(
        [*command, "--output", str(target)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def stop_profiles(profilers: Iterable[subprocess.Popen[bytes]]) -> None:
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)  # py-spy writes its profile on SIGINT
        await asyncio.to_thread(profiler.wait)


def median_spread(values: Sequence[float], fmt: str) -> str:
    """`median (min-max)`, each formatted with `fmt`."""
    return (
        f"{format(statistics.median(values), fmt)} "
        f"({format(min(values), fmt)}-{format(max(values), fmt)})"
    )


def percentile_ms(seconds: Sequence[float], p: float) -> float:
    """The `p` quantile (0..1, nearest rank) of durations in seconds, in milliseconds."""
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))] * 1000


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str) -> str:
    """`align` has one letter a column: l (text) or r (figures)."""
    assert len(align) == len(header), (align, header)
    rule = "|".join("---" if a == "l" else "---:" for a in align)
    lines = [f"| {' | '.join(header)} |", f"|{rule}|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines)


Series = dict[tuple[str, str], list[L]]
"""Measured legs by (case, leg), one a run, in run order: series[(case, "service")][run]."""


def ratios(
    series: Series[L], case: str, ratio: Callable[[L, L], float], baseline: str = "raw"
) -> list[float]:
    """`ratio(service, baseline)` of the two legs of each run, so a ratio compares legs
    measured side by side."""
    return [
        ratio(s, r)
        for s, r in zip(series[(case, "service")], series[(case, baseline)], strict=True)
    ]


Stat = Callable[[Series[L], str], list[float]]
"""One figure of a case, a value a run: of one leg, or of the two legs of each run."""


def of_leg(leg: str, value: Callable[[L], float]) -> Stat[L]:
    return lambda series, case: [value(measured) for measured in series[(case, leg)]]


def of_pairs(ratio: Callable[[L, L], float], baseline: str = "raw") -> Stat[L]:
    return lambda series, case: ratios(series, case, ratio, baseline)


class Figure(NamedTuple, Generic[L]):
    """A column of an A/B table: its header, the figure, how it is printed."""

    header: str
    stat: Stat[L]
    fmt: str
    suffix: str = ""


def ab_table(
    results: Mapping[str, Series[L]],
    case_header: Sequence[str],
    cases: Mapping[str, Sequence[str]],
    figures: Sequence[Figure[L]],
    case_align: str,
) -> str:
    """A row per database and case: the database, the case's cells (`cases[case]`, headed by
    `case_header`, aligned by `case_align`), then the median (min-max) of each figure."""
    rows = [
        [
            backend,
            *cells,
            *(f"{median_spread(f.stat(series, case), f.fmt)}{f.suffix}" for f in figures),
        ]
        for backend, series in results.items()
        for case, cells in cases.items()
    ]
    header = ["database", *case_header, *(f.header for f in figures)]
    return markdown_table(header, rows, "l" + case_align + "r" * len(figures))


class Rated(Protocol):
    @property
    def rate(self) -> float: ...


R = TypeVar("R", bound=Rated)


def rate_figures(service: str, unit: str, fmt: str) -> list[Figure[R]]:
    """The service's rate, the raw pipeline's, and their ratio in each run."""
    return [
        Figure(f"{service} {unit}", of_leg("service", lambda leg: leg.rate), fmt),
        Figure(f"raw {unit}", of_leg("raw", lambda leg: leg.rate), fmt),
        Figure("share of raw", of_pairs(lambda s, w: s.rate / w.rate), ".2f", "x"),
    ]


async def create_topic(bootstrap: str, topic: str, partitions: int = PARTITIONS) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def consumer_at_end(
    bootstrap: str, topic: str, *, batch_size: int = 500, group: bool = True
) -> AIOKafkaConsumer:
    """A started consumer of `topic`, joined and positioned at its end before the leg's first
    send, so it reads exactly that leg's records; with `group`, in a group of its own with
    manual commits (a raw pipeline), else without a group (a watcher)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"raw-{uuid.uuid4().hex[:6]}" if group else None,
        auto_offset_reset="latest",
        enable_auto_commit=False,
        max_poll_records=batch_size,
    )
    await consumer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=100)
    for tp in consumer.assignment():
        await consumer.position(tp)
    return consumer


async def consume_batches(
    consumer: AIOKafkaConsumer,
    count: int,
    batch_size: int,
    apply: Callable[[list[dict[str, Any]]], Awaitable[None]],
) -> int:
    """A raw pipeline's loop until `count` records: getmany, `apply` to each partition's batch
    of parsed JSON bodies, one offset commit per batch. Returns how many were consumed."""
    done = 0
    while done < count:
        batches = await consumer.getmany(timeout_ms=500, max_records=batch_size)
        for records in batches.values():
            await apply([json.loads(r.value or b"{}") for r in records])
            await consumer.commit()
            done += len(records)
    return done


class PostgresServer:
    """A PostgreSQL server the benchmark makes databases on. On a shared one (BENCH_POSTGRES_URL)
    the databases it made are dropped at the end (a million customers take a gigabyte of a
    server others share), except those it was told to `keep`."""

    def __init__(self, admin_url: str, *, shared: bool) -> None:
        self.admin_url = admin_url
        self.shared = shared
        self.made: list[str] = []

    def url(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def create(self, name: str) -> str:
        """Make database `name` and return its SQLAlchemy URL."""
        self.admin(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        return self.url(name)

    def exists(self, name: str) -> bool:
        return bool(self._run("SELECT 1 FROM pg_database WHERE datname = $1", name))

    def rename(self, name: str, to: str) -> None:
        self.admin(f'ALTER DATABASE "{name}" RENAME TO "{to}"')
        self.made = [to if made == name else made for made in self.made]

    def keep(self, name: str) -> None:
        self.made = [made for made in self.made if made != name]

    def drop(self, name: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def admin(self, statement: str) -> None:
        """A statement outside any transaction (CREATE/DROP DATABASE)."""
        self._run(statement, fetch=False)

    def _run(self, statement: str, *args: Any, fetch: bool = True) -> Any:
        async def run() -> Any:
            dsn = make_url(self.admin_url).set(drivername="postgresql")
            connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
            try:
                if fetch:
                    return await connection.fetchval(statement, *args)
                # The simple query protocol: no statement prepared, no transaction around it.
                return await connection.execute(statement)
            finally:
                await connection.close()

        return asyncio.run(run())

    def drop_made(self) -> None:
        if self.shared:
            for name in self.made:
                self.drop(name)


@contextmanager
def postgres_server(stack: ExitStack, work: Path) -> Iterator[PostgresServer]:
    """The shared server named by BENCH_POSTGRES_URL (an admin URL), or a local one started in
    `work` for as long as the benchmark runs."""
    admin_url = os.environ.get("BENCH_POSTGRES_URL")
    if admin_url:
        server = PostgresServer(admin_url, shared=True)
        try:
            yield server
        finally:
            server.drop_made()
        return
    postgres = LocalPostgres(
        port=free_port(), data_dir=work / "pg", log_file=RESULTS / "logs" / "postgres.log"
    )
    postgres.start()
    stack.callback(postgres.stop)
    yield PostgresServer(postgres.admin_url, shared=False)


@dataclass
class Bench:
    """One benchmark's run: its servers, its scratch directory, the machine's load sampled after
    every leg, and its report."""

    name: str
    work: Path
    bootstrap: str
    postgres: PostgresServer | None
    started: float = field(default_factory=time.time)
    loads: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sample_load()

    def sample_load(self) -> None:
        self.loads.append(os.getloadavg()[0])

    def database(self, name: str) -> str:
        """A new PostgreSQL database's SQLAlchemy URL."""
        assert self.postgres is not None, "started without PostgreSQL"
        return self.postgres.create(name)

    def alternate(
        self,
        label: str,
        runs: int,
        cases: Sequence[str],
        measure: Callable[[int, str, str], L],
        describe: Callable[[L], str],
        legs: Sequence[str] = LEGS,
    ) -> Series[L]:
        """Each run measures every case's legs in turn, the legs' order flipped from one run to
        the next (A/B, B/A, A/B), so a burst of load on the shared machine falls on both alike.
        `measure(run, case, leg)` takes one leg; a progress line is printed after each."""
        series: Series[L] = {}
        for run in range(runs):
            for case in cases:
                for leg in legs if run % 2 == 0 else tuple(reversed(legs)):
                    measured = measure(run, case, leg)
                    self.sample_load()
                    series.setdefault((case, leg), []).append(measured)
                    what = " ".join(part for part in (case, leg) if part)
                    print(f"bench {label} run {run + 1} {what}: {describe(measured)}", flush=True)
        return series

    def machine(self) -> str:
        """The machine line: when, where, how many cores, and the load while it ran."""
        self.sample_load()
        span = (
            f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(self.started))}-"
            f"{time.strftime('%H:%M', time.gmtime())} UTC"
        )
        one, five, fifteen = os.getloadavg()
        return (
            f"{span}, {platform.node()}, {os.cpu_count()} cores; load average (1 min) "
            f"{min(self.loads):.1f}-{max(self.loads):.1f} over the run "
            f"(uptime at the end: {one:.2f}, {five:.2f}, {fifteen:.2f})"
        )

    def report(self, title: str, body: str, name: str | None = None) -> None:
        """Write bench-results/<name>.md (the benchmark's name by default) and print it."""
        text = f"# {title}\n\n{self.machine()}\n\n{body}"
        (RESULTS / f"{name or self.name}.md").write_text(text)
        print("\n" + text)


def add_ab_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of every A/B benchmark: runs, consumer batch size, databases."""
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--backends", default="sqlite,postgres")


def profile_dir() -> Path | None:
    """BENCH_PROFILE=<dir>: where py-spy profiles of the last run's service legs go."""
    profile = os.environ.get("BENCH_PROFILE")
    if not profile:
        return None
    Path(profile).mkdir(parents=True, exist_ok=True)
    return Path(profile)


def each_backend(
    run: Bench,
    args: argparse.Namespace,
    what: str,
    run_backend: Callable[[str, argparse.Namespace, Bench], Series[L]],
) -> dict[str, Series[L]]:
    """`run_backend` for each of `--backends` in turn: the series by database."""
    results = {}
    for backend in args.backends.split(","):
        print(f"bench {run.name}: {what} x {args.runs} runs on {backend}", flush=True)
        results[backend] = run_backend(backend, args, run)
    return results


def run_ab(
    name: str,
    args: argparse.Namespace,
    what: str,
    run_backend: Callable[[str, argparse.Namespace, Bench], Series[L]],
    report: Callable[[dict[str, Series[L]]], tuple[str, str]],
) -> None:
    """An A/B benchmark from start to end: the servers, each of `--backends` in turn, and the
    report (`report(results)` gives its title and body)."""
    with bench(name, postgres="postgres" in args.backends) as run:
        results = each_backend(run, args, what, run_backend)
        run.report(*report(results))


@contextmanager
def bench(name: str, *, postgres: bool) -> Iterator[Bench]:
    """The servers a benchmark runs on, for as long as it runs."""
    RESULTS.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"tvcm-bench-{name}-"))
    # Service processes started by the benchmark read their files from here.
    os.chmod(work, 0o755)
    with ExitStack() as stack:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            ensure_jars()
            kafka = LocalKafka(
                port=free_port(),
                controller_port=free_port(),
                data_dir=work / "kafka",
                log_file=RESULTS / "logs" / "kafka.log",
            )
            kafka.start()
            stack.callback(kafka.stop)
            bootstrap = kafka.bootstrap_servers
        server = stack.enter_context(postgres_server(stack, work)) if postgres else None
        yield Bench(name, work, bootstrap, server)
