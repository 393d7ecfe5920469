"""`make bench BENCH=customers_list`: the customers list at 10k, 100k and 1M customers on
SQLite and PostgreSQL. For each database and size, p50/p95 of list pages (filtered, searched,
sorted, deep pages) through the gateway (HTTP, token, gateway -> customers service ->
database), the same page from the customers service directly (the gateway's hop is the
difference), the same page through two bare forwarders (the floor of any Python hop: see
tests/bench/bare_hop.py), and the same SQL run directly (the statements the service ran for
that page, captured and replayed on a raw driver connection). Writes
bench-results/customers-list.md and the PostgreSQL query plans at the largest size to
bench-results/customers-list-plans.md.

Each size is seeded once into a database kept between runs (PostgreSQL: `benchlist_<size>_
<revision>_<seed code>` on the server; SQLite: bench-results/seeded/), so a second run starts
measuring at once; `--fresh` seeds anew. Servers: KAFKA_BOOTSTRAP_SERVERS and BENCH_POSTGRES_URL
(an admin URL of an existing server, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres)
are used when set; otherwise a local Kafka and PostgreSQL are started as `make test` does (and
the PostgreSQL databases go with it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import make_url

from deploy.local.kafka import free_port
from deploy.local.processes import service_processes, start_all, stop_all
from services.customers import listing, seed
from services.customers.app import SPEC
from services.customers.schemas import SortKey
from services.runtime.db import Database
from services.runtime.migrations import alembic_config
from services.runtime.service_auth import ServiceTokenAuth, service_token_secret_in
from tests.bench import harness
from tests.bench.harness import (
    RESULTS,
    Bench,
    markdown_table,
    median_spread,
    percentile_ms,
    record_profile,
    stop_profiles,
)

# Values are str; Any keeps httpx's wider parameter type happy.
Params = list[tuple[str, Any]]
NOW = datetime.now(UTC)
ONE_AND_A_HALF = timedelta(days=540)  # years
# Seeded SQLite databases kept between runs (PostgreSQL's stay on the server).
SEEDED_DIR = RESULTS / "seeded"


def _cursor(sort: SortKey, value: Any, last_id: str = "") -> str:
    return listing.encode_cursor(sort, value, last_id)


@dataclass(frozen=True)
class Scenario:
    name: str
    # Several parameter sets, used in turn, so one cached answer does not make the figure.
    variants: list[Params]


def scenarios() -> list[Scenario]:
    soon = (NOW + timedelta(days=7)).isoformat()
    return [
        Scenario("first page, newest first (no filter)", [[("sort", "-created_at")]]),
        Scenario(
            "status_group=active, by name",
            [[("status_group", "active"), ("sort", "name")]],
        ),
        Scenario(
            "status=expired, by expiry desc",
            [[("status", "expired"), ("sort", "-expires_at")]],
        ),
        Scenario(
            "webshop + product, oldest first",
            [
                [("webshop_id", w), ("product_id", p), ("sort", "created_at")]
                for w, p in (("shop-cz", "premium"), ("shop-eu", "basic"), ("shop-us", "trial"))
            ],
        ),
        Scenario(
            "expiring within 7 days (active), by expiry",
            [
                [
                    ("status_group", "active"),
                    ("expires_after", NOW.isoformat()),
                    ("expires_before", soon),
                    ("sort", "expires_at"),
                ]
            ],
        ),
        Scenario("by status", [[("sort", "status")], [("sort", "-status")]]),
        Scenario(
            "q = name prefix, by name",
            [[("q", q), ("sort", "name")] for q in ("smi", "nov", "jan", "martin", "procházka w")],
        ),
        Scenario(
            "q = e-mail / login / phone prefix",
            [[("q", q)] for q in ("jane.smith1", "eva.koch2", "+420777", "+4206012")],
        ),
        Scenario(
            "q = name prefix + status_group=inactive",
            [[("q", q), ("status_group", "inactive"), ("sort", "name")] for q in ("kr", "wa")],
        ),
        Scenario(
            "deep page by name (cursor mid-alphabet)",
            [[("sort", "name"), ("cursor", _cursor("name", v))] for v in ("m", "novák", "t")],
        ),
        Scenario(
            "deep page newest first (cursor 18 months back)",
            [
                [
                    ("sort", "-created_at"),
                    ("cursor", _cursor("-created_at", NOW - timedelta(days=540))),
                ]
            ],
        ),
        Scenario(
            "deep page by expiry (cursor at now)",
            [[("sort", "expires_at"), ("cursor", _cursor("expires_at", NOW))]],
        ),
    ]


def _filters(params: Params) -> tuple[listing.ListFilters, SortKey, str | None]:
    values: dict[str, list[str]] = {}
    for key, value in params:
        values.setdefault(key, []).append(value)

    def one(key: str) -> str | None:
        return values.get(key, [None])[0]

    def when(key: str) -> datetime | None:
        raw = one(key)
        return datetime.fromisoformat(raw) if raw else None

    filters = listing.ListFilters(
        status=values.get("status"),
        status_group=one("status_group"),
        source=one("source"),
        webshop_id=one("webshop_id"),
        product_id=one("product_id"),
        expires_before=when("expires_before"),
        expires_after=when("expires_after"),
        q=one("q"),
    )
    sort: SortKey = one("sort") or "-created_at"  # type: ignore[assignment]
    return filters, sort, one("cursor")


Statement = tuple[str, tuple[Any, ...]]


async def captured_statements(db: Database, params: Params) -> tuple[list[Statement], int]:
    """The statements the service runs for this page (and the page's row count)."""
    statements: list[Statement] = []

    def record(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, tuple(parameters or ())))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        filters, sort, cursor = _filters(params)
        async with db.sessions() as session:
            page = await listing.list_customers(
                session, filters, sort=sort, limit=50, cursor=cursor
            )
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    return statements, len(page.items)


@dataclass
class Row:
    backend: str
    size: int
    scenario: str
    gateway: list[float] = field(default_factory=list)
    service: list[float] = field(default_factory=list)
    direct: list[float] = field(default_factory=list)
    # The same page through each bare hop (tests/bench/bare_hop.py): the floor of a Python hop.
    bare: dict[str, list[float]] = field(default_factory=dict)
    rows: int = 0
    total: str = ""
    # CPU milliseconds per request of each process: the gateway's per gateway request, the
    # customers service's per page it served (through the gateway and directly alike).
    cpu_ms: dict[str, float] = field(default_factory=dict)

    @property
    def hops(self) -> list[float]:
        """Gateway minus service per pair of requests (the same page one after the other)."""
        return [g - s for g, s in zip(self.gateway, self.service, strict=True)]

    def bare_hops(self, client: str) -> list[float]:
        """A bare hop minus the service, per pair of requests."""
        return [b - s for b, s in zip(self.bare[client], self.service, strict=True)]


class RawSql:
    """The captured statements replayed on one plain driver connection: asyncpg on PostgreSQL,
    the sqlite3 module on SQLite (the service's aiosqlite runs the same in a thread)."""

    def __init__(self, database_url: str) -> None:
        self.url = make_url(database_url)
        self.pg: asyncpg.Connection | None = None
        self.sqlite: sqlite3.Connection | None = None

    async def __aenter__(self) -> RawSql:
        if self.url.get_backend_name() == "postgresql":
            dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self.pg = await asyncpg.connect(dsn)
        else:
            self.sqlite = sqlite3.connect(self.url.database or "")
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.pg is not None:
            await self.pg.close()
        if self.sqlite is not None:
            self.sqlite.close()

    async def run(self, statements: list[Statement]) -> None:
        for sql, args in statements:
            if self.pg is not None:
                await self.pg.fetch(sql, *args)
            else:
                assert self.sqlite is not None
                self.sqlite.execute(sql, args).fetchall()

    async def plan(self, sql: str, args: tuple[Any, ...]) -> str:
        if self.pg is not None:
            rows = await self.pg.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
            return "\n".join(r[0] for r in rows)
        assert self.sqlite is not None
        rows = self.sqlite.execute(f"EXPLAIN QUERY PLAN {sql}", args).fetchall()
        return "\n".join(str(r[-1]) for r in rows)


async def measure(
    backend: str,
    size: int,
    urls: Urls,
    db: Database,
    raw: RawSql,
    requests: int,
    plans: list[str] | None,
) -> list[Row]:
    """Per request, in turn (A/B/C alternated, so a burst of load on the shared machine falls
    on all three alike): the page through the gateway, the same page from the customers
    service directly (the gateway's hop is the difference), the same SQL on a raw connection."""
    results = []
    gateway = httpx.AsyncClient(
        base_url=urls.gateway, headers={"Authorization": f"Bearer {urls.token}"}, timeout=60
    )
    # Signed as the gateway signs its calls: the service answers nobody else.
    service = httpx.AsyncClient(
        base_url=urls.service, timeout=60, auth=ServiceTokenAuth(urls.service_key, actor="bench")
    )
    bare = {
        client: httpx.AsyncClient(base_url=url, timeout=60) for client, url in urls.bare.items()
    }
    async with gateway, service, contextlib.AsyncExitStack() as clients:
        for opened in bare.values():
            await clients.enter_async_context(opened)
        for scenario in scenarios():
            row = Row(backend, size, scenario.name)
            captured = [await captured_statements(db, v) for v in scenario.variants]
            # Warm-up: one pass over the variants, as a running service would be.
            for variant in scenario.variants:
                (await gateway.get("/api/v1/customers", params=variant)).raise_for_status()
                answer = await service.get("/customers", params=variant)
                answer.raise_for_status()
                for client, hop in bare.items():
                    passed = await hop.get("/customers", params=variant)
                    # The same page, or the floor is measured on some other work.
                    if passed.status_code != 200 or passed.content != answer.content:
                        raise RuntimeError(f"the {client} bare hop answered {passed.text[:200]}")
            cpu = harness.CpuMeter(urls.pids)
            for i in range(requests):
                variant = scenario.variants[i % len(scenario.variants)]
                started = time.perf_counter()
                response = await gateway.get("/api/v1/customers", params=variant)
                row.gateway.append(time.perf_counter() - started)
                response.raise_for_status()
                body = response.json()
                row.rows = max(row.rows, len(body["items"]))
                row.total = f"{body['total']}{'' if body['total_exact'] else '~'}"
                started = time.perf_counter()
                direct = await service.get("/customers", params=variant)
                row.service.append(time.perf_counter() - started)
                direct.raise_for_status()
                for client, hop in bare.items():
                    started = time.perf_counter()
                    passed = await hop.get("/customers", params=variant)
                    row.bare.setdefault(client, []).append(time.perf_counter() - started)
                    passed.raise_for_status()
                statements, _ = captured[i % len(captured)]
                started = time.perf_counter()
                await raw.run(statements)
                row.direct.append(time.perf_counter() - started)
            spent = cpu.ms_per(requests)
            # The service serves each request once through the gateway, once directly and once
            # through each bare hop.
            row.cpu_ms = {
                **spent,
                "customers": spent["customers"] / (2 + len(bare)),
            }
            if plans is not None:
                plans.append(f"### {scenario.name}\n")
                for sql, args in captured[0][0]:
                    plan = await raw.plan(sql, args)
                    plans.append(f"```sql\n{sql}\n-- {args}\n```\n```\n{plan}\n```\n")
            results.append(row)
            gateway_p50, service_p50 = (
                percentile_ms(row.gateway, 0.5),
                percentile_ms(row.service, 0.5),
            )
            print(
                f"  {backend:<8} {size:>8} {scenario.name:<48} gateway p50 {gateway_p50:6.1f} ms"
                f" | service {service_p50:6.1f} | SQL {percentile_ms(row.direct, 0.5):6.1f}",
                flush=True,
            )
    return results


def table(rows: list[Row]) -> str:
    lines = []
    for r in rows:
        gateway_p50, sql_p50 = percentile_ms(r.gateway, 0.5), percentile_ms(r.direct, 0.5)
        lines.append(
            [
                r.backend,
                f"{r.size:,}",
                r.scenario,
                f"{gateway_p50:.1f}",
                f"{percentile_ms(r.gateway, 0.95):.1f}",
                f"{percentile_ms(r.service, 0.5):.1f}",
                f"{percentile_ms(r.service, 0.95):.1f}",
                f"{percentile_ms(r.hops, 0.5):.1f}",
                *(f"{percentile_ms(r.bare_hops(c), 0.5):.1f}" for c in BARE_CLIENTS),
                f"{sql_p50:.1f}",
                f"{percentile_ms(r.direct, 0.95):.1f}",
                f"{gateway_p50 / sql_p50:.1f}x",
                f"{r.cpu_ms['gateway']:.2f}",
                f"{r.cpu_ms['customers']:.2f}",
                *(f"{r.cpu_ms[f'bare {c}']:.2f}" for c in BARE_CLIENTS),
                str(r.rows),
                r.total,
            ]
        )
    header = (
        "database",
        "customers",
        "page",
        "gateway p50 (ms)",
        "gateway p95 (ms)",
        "service p50 (ms)",
        "service p95 (ms)",
        "hop p50 (ms)",
        *(f"bare {c} hop p50 (ms)" for c in BARE_CLIENTS),
        "SQL p50 (ms)",
        "SQL p95 (ms)",
        "gateway / SQL p50",
        "gateway CPU ms/request",
        "customers CPU ms/page",
        *(f"bare {c} CPU ms/request" for c in BARE_CLIENTS),
        "rows (max)",
        "total (last)",
    )
    return markdown_table(header, lines, "lrl" + "r" * (len(header) - 3))


def summary(rows: list[Row]) -> str:
    """Per database and size, over the kinds of page: the figures the targets speak of."""
    groups: dict[tuple[str, int], list[Row]] = {}
    for r in rows:
        groups.setdefault((r.backend, r.size), []).append(r)
    lines = []
    for (backend, size), group in groups.items():
        ratios = [percentile_ms(r.gateway, 0.5) / percentile_ms(r.direct, 0.5) for r in group]
        hops = [percentile_ms(r.hops, 0.5) for r in group]
        lines.append(
            [
                backend,
                f"{size:,}",
                median_spread([percentile_ms(r.gateway, 0.5) for r in group], ".1f"),
                median_spread([percentile_ms(r.gateway, 0.95) for r in group], ".1f"),
                median_spread([percentile_ms(r.direct, 0.5) for r in group], ".1f"),
                f"{median_spread(ratios, '.1f')}x",
                f"{sum(1 for x in ratios if x <= 3)} of {len(group)}",
                median_spread(hops, ".1f"),
                f"{sum(1 for h in hops if h <= 1)} of {len(group)}",
                *(
                    median_spread([percentile_ms(r.bare_hops(c), 0.5) for r in group], ".1f")
                    for c in BARE_CLIENTS
                ),
                median_spread([r.cpu_ms["gateway"] for r in group], ".2f"),
                median_spread([r.cpu_ms["customers"] for r in group], ".2f"),
                *(
                    median_spread([r.cpu_ms[f"bare {c}"] for r in group], ".2f")
                    for c in BARE_CLIENTS
                ),
            ]
        )
    header = (
        "database",
        "customers",
        "gateway p50 (ms)",
        "gateway p95 (ms)",
        "SQL p50 (ms)",
        "gateway / SQL p50",
        "kinds <= 3x",
        "hop p50 (ms)",
        "kinds <= 1 ms",
        *(f"bare {c} hop p50 (ms)" for c in BARE_CLIENTS),
        "gateway CPU ms/request",
        "customers CPU ms/page",
        *(f"bare {c} CPU ms/request" for c in BARE_CLIENTS),
    )
    return markdown_table(header, lines, "lr" + "r" * (len(header) - 2))


@dataclass(frozen=True)
class Urls:
    gateway: str
    service: str
    service_key: str
    token: str
    pids: dict[str, int]
    bare: dict[str, str]


def seeded_key() -> str:
    """What a seeded database depends on: the customers schema's revision and the seed code."""
    script = ScriptDirectory.from_config(alembic_config(SPEC.migrations_dir, "sqlite://"))
    code = hashlib.sha256(Path(seed.__file__).read_bytes()).hexdigest()
    return f"{script.get_current_head()}_{code[:6]}"


def seeded_database(run: Bench, backend: str, size: int, fresh: bool) -> str:
    """The URL of a database of `size` seeded customers, made once and kept between runs (keyed
    by size, schema revision and seed code): a million customers take minutes to seed. Seeded
    under a temporary name and renamed when done, so a run cut short leaves nothing that looks
    complete."""
    name = f"benchlist_{size}_{seeded_key()}"
    if backend == "postgres":
        assert run.postgres is not None
        server = run.postgres
        if fresh:
            server.drop(name)
        if not server.exists(name):
            partial = f"{name}_partial"
            server.drop(partial)
            _seed(server.create(partial), size)
            server.rename(partial, name)
        server.keep(name)
        return server.url(name)
    path = SEEDED_DIR / f"{name}.db"
    if fresh:
        path.unlink(missing_ok=True)
    if not path.exists():
        SEEDED_DIR.mkdir(parents=True, exist_ok=True)
        unfinished = path.with_suffix(".partial")
        for leftover in SEEDED_DIR.glob(f"{unfinished.name}*"):
            leftover.unlink()
        _seed(f"sqlite+aiosqlite:///{unfinished}", size)
        unfinished.rename(path)
    return f"sqlite+aiosqlite:///{path}"


def _seed(database_url: str, size: int) -> None:
    print(f"bench: seeding {size:,} customers ...", flush=True)
    started = time.perf_counter()
    asyncio.run(seed.seed(database_url, size, seed_value=size))
    print(f"  seeded {size:,} in {time.perf_counter() - started:.0f} s", flush=True)


BARE_CLIENTS = ("httpx", "raw")


def start_bare_hops(
    service_url: str, service_key: str
) -> dict[str, tuple[subprocess.Popen[bytes], str]]:
    """A bare hop (tests/bench/bare_hop.py) per client in front of the service, each answering:
    the process and its URL by client."""
    hops = {}
    for client in BARE_CLIENTS:
        port = free_port()
        command = [sys.executable, "-m", "tests.bench.bare_hop", "--client", client]
        command += ["--port", str(port), "--upstream", service_url, "--key", service_key]
        hops[client] = (subprocess.Popen(command), f"http://127.0.0.1:{port}")
    for client, (process, url) in hops.items():
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=5)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the {client} bare hop did not start") from None
                time.sleep(0.2)
    return hops


def measure_size(
    run: Bench, backend: str, size: int, args: argparse.Namespace, plans: list[str] | None
) -> list[Row]:
    """The customers service and the gateway started on a seeded database, every kind of page
    measured, the processes stopped. With BENCH_PROFILE=<dir>, py-spy records both processes
    while the largest size is measured (`<dir>/<backend>-<size>-<process>.txt`)."""
    database_url = seeded_database(run, backend, size, args.fresh)
    data_dir = run.work / f"{backend}-{size}"
    data_dir.mkdir()
    tag = f"benchlist{uuid.uuid4().hex[:6]}"
    password = uuid.uuid4().hex
    ports = {"customers": free_port(), "gateway": free_port()}
    processes = [
        p
        for p in service_processes(
            kafka_bootstrap_servers=run.bootstrap,
            data_dir=data_dir,
            log_dir=RESULTS / "logs" / "customers-list",
            ports=ports,
            database_urls={"customers": database_url},
            extra_env={
                "KAFKA_TOPIC_PREFIX": f"{tag}.",
                "LOG_LEVEL": "WARNING",
                "ADMIN_PASSWORD": password,
                # The benchmark measures how long a page takes, however long: on a machine at a
                # load average of 30+, a searched page at 1M can take longer than the gateway's
                # default 2 s, and a 503 would stop the run instead of being a figure.
                "SERVICE_TIMEOUT_SECONDS": "60",
            },
        )
        if p.name in ("customers", "gateway")
    ]
    # The key the processes find in DATA_DIR, made before they start.
    service_key = service_token_secret_in(data_dir)
    start_all(processes)
    service_url = f"http://127.0.0.1:{ports['customers']}"
    bare_hops = start_bare_hops(service_url, service_key)
    try:
        gateway_url = f"http://127.0.0.1:{ports['gateway']}"
        token = httpx.post(
            f"{gateway_url}/api/v1/auth/token", data={"username": "admin", "password": password}
        ).json()["access_token"]
        pids = {p.name: p.process.pid for p in processes if p.process is not None}
        pids |= {f"bare {client}": hop.pid for client, (hop, _) in bare_hops.items()}
        bare_urls = {client: url for client, (_, url) in bare_hops.items()}
        urls = Urls(gateway_url, service_url, service_key, token, pids, bare_urls)
        profiles = harness.profile_dir()
        profilers = [
            record_profile(p.process.pid, profiles / f"{backend}-{size}-{p.name}.txt")
            for p in processes
            if profiles and p.process is not None and size == max(args.sizes)
        ]

        async def measured() -> list[Row]:
            db = Database(database_url)
            try:
                async with RawSql(database_url) as raw:
                    return await measure(backend, size, urls, db, raw, args.requests, plans)
            finally:
                await stop_profiles(profilers)
                await db.dispose()

        return asyncio.run(measured())
    finally:
        for hop, _ in bare_hops.values():
            hop.terminate()
            hop.wait(timeout=30)
        stop_all(processes)
        run.sample_load()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "10000,100000,1000000"))
    parser.add_argument("--requests", type=int, default=int(os.environ.get("BENCH_REQUESTS", 100)))
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument(
        "--fresh", action="store_true", help="seed anew instead of reusing a kept database"
    )
    args = parser.parse_args()
    args.sizes = sorted(int(s) for s in args.sizes.split(","))
    backends = args.backends.split(",")
    rows: list[Row] = []
    plans: list[str] = []
    with harness.bench("customers-list", postgres="postgres" in backends) as run:
        for backend in backends:
            for size in args.sizes:
                keep = plans if backend == "postgres" and size == args.sizes[-1] else None
                rows += measure_size(run, backend, size, args, keep)
                # Written after each size, so a run cut short still leaves what it measured.
                report(run, rows, args)
        if plans:
            (RESULTS / "customers-list-plans.md").write_text(
                f"# Query plans of the customers list at {args.sizes[-1]:,} customers\n\n"
                + "\n".join(plans)
            )


def report(run: Bench, rows: list[Row], args: argparse.Namespace) -> None:
    run.report(
        f"Customers list ({args.requests} requests per page kind)",
        f"{summary(rows)}\n\n{table(rows)}\n\n"
        "Gateway: GET /api/v1/customers?limit=50 with a bearer token, one request at a time "
        "(gateway -> customers service -> database, page and total).\n"
        "Service: the same page from the customers service directly (GET /customers); hop: "
        "gateway minus service, per pair of requests.\n"
        "Bare hops: the same page through a bare ASGI app on uvicorn that only signs and "
        "forwards the call (tests/bench/bare_hop.py), with httpx (the gateway's client) or "
        "HTTP/1.1 by hand on asyncio streams: the floor of a Python hop on these servers; "
        "bare hop = bare minus service.\n"
        "SQL: the same statements (page query, then the total's capped count), captured from "
        "the service code and replayed on one raw driver connection (asyncpg, sqlite3).\n"
        "The summary: median (min-max) over the kinds of page of each kind's figure, and how "
        "many kinds meet the targets (gateway p50 <= 3x its SQL's, hop p50 <= 1 ms).\n"
        "CPU ms: user+system time of the process (/proc/<pid>/stat) over a kind's requests: "
        "the gateway's and each bare hop's per request, the customers service's per page it "
        "served (through the gateway, directly and through each bare hop): on a loaded machine "
        "the figure that holds.\n"
        "`~` after a total: beyond 1,000 matches the total is an estimate (no filter) or "
        "1,001 meaning more than 1,000 (PostgreSQL; SQLite counts exactly).\n",
    )


if __name__ == "__main__":
    main()
