"""`make bench BENCH=customers_list`: the customers list at 10k, 100k and 1M customers on
PostgreSQL. For each size, p50/p99 of list pages (filtered, searched, sorted, deep pages)
through the gateway (HTTP, token, gateway -> customers service -> PostgreSQL) beside the same
SQL run directly (the statements the service ran for that page, captured and replayed on a raw
asyncpg connection). Writes bench-results/customers-list.md and the query plans at the largest
size to bench-results/customers-list-plans.md.

Servers: KAFKA_BOOTSTRAP_SERVERS and BENCH_POSTGRES_URL (an admin URL of an existing server,
e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres) are used when set; otherwise a
local Kafka and PostgreSQL are started as `make test` does.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event
from sqlalchemy.engine import make_url

from deploy.local.kafka import free_port
from deploy.local.processes import service_processes, start_all, stop_all
from services.customers import listing, seed
from services.customers.schemas import SortKey
from services.runtime.db import Database
from services.runtime.service_auth import ServiceTokenAuth, service_token_secret_in
from tests.bench.harness import RESULTS, bench, markdown_table, percentile_ms

# Values are str; Any keeps httpx's wider parameter type happy.
Params = list[tuple[str, Any]]
NOW = datetime.now(UTC)
ONE_AND_A_HALF = timedelta(days=540)  # years


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
    size: int
    scenario: str
    gateway: list[float] = field(default_factory=list)
    service: list[float] = field(default_factory=list)
    direct: list[float] = field(default_factory=list)
    rows: int = 0
    total: str = ""


async def measure(
    size: int,
    gateway_url: str,
    service_url: str,
    service_key: str,
    token: str,
    db: Database,
    raw: asyncpg.Connection,
    requests: int,
    plans: list[str] | None,
) -> list[Row]:
    """Per request, in turn (A/B/C alternated, so a burst of load on the shared machine falls
    on all three alike): the page through the gateway, the same page from the customers
    service directly (the gateway's hop is the difference), the same SQL on a raw connection."""
    results = []
    gateway = httpx.AsyncClient(
        base_url=gateway_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    # Signed as the gateway signs its calls: the service answers nobody else.
    service = httpx.AsyncClient(
        base_url=service_url, timeout=60, auth=ServiceTokenAuth(service_key, actor="bench")
    )
    async with gateway, service:
        for scenario in scenarios():
            row = Row(size, scenario.name)
            captured = [await captured_statements(db, v) for v in scenario.variants]
            # Warm-up: one pass over the variants, as a running service would be.
            for variant in scenario.variants:
                (await gateway.get("/api/v1/customers", params=variant)).raise_for_status()
                (await service.get("/customers", params=variant)).raise_for_status()
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
                statements, _ = captured[i % len(captured)]
                started = time.perf_counter()
                for sql, args in statements:
                    await raw.fetch(sql, *args)
                row.direct.append(time.perf_counter() - started)
            if plans is not None:
                plans.append(f"### {scenario.name}\n")
                for sql, args in captured[0][0]:
                    plan = await raw.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
                    text = "\n".join(r[0] for r in plan)
                    plans.append(f"```sql\n{sql}\n-- {args}\n```\n```\n{text}\n```\n")
            results.append(row)
            gateway_p50, service_p50 = (
                percentile_ms(row.gateway, 0.5),
                percentile_ms(row.service, 0.5),
            )
            print(
                f"  {size:>8} {scenario.name:<48} gateway p50 {gateway_p50:6.1f} ms"
                f" | service {service_p50:6.1f} | SQL {percentile_ms(row.direct, 0.5):6.1f}",
                flush=True,
            )
    return results


def table(rows: list[Row]) -> str:
    lines = []
    for r in rows:
        # The hop per request pair (gateway minus service, the same page one after the other).
        hops = [g - s for g, s in zip(r.gateway, r.service, strict=True)]
        gateway_p50, sql_p50 = percentile_ms(r.gateway, 0.5), percentile_ms(r.direct, 0.5)
        lines.append(
            [
                f"{r.size:,}",
                r.scenario,
                f"{gateway_p50:.1f}",
                f"{percentile_ms(r.gateway, 0.99):.1f}",
                f"{percentile_ms(r.service, 0.5):.1f}",
                f"{percentile_ms(hops, 0.5):.1f}",
                f"{sql_p50:.1f}",
                f"{percentile_ms(r.direct, 0.99):.1f}",
                f"{gateway_p50 / sql_p50:.1f}x",
                str(r.rows),
                r.total,
            ]
        )
    header = (
        "customers",
        "page",
        "gateway p50 (ms)",
        "gateway p99 (ms)",
        "service p50 (ms)",
        "hop p50 (ms)",
        "SQL p50 (ms)",
        "SQL p99 (ms)",
        "gateway / SQL p50",
        "rows (max)",
        "total (last)",
    )
    return markdown_table(header, lines, "rl" + "r" * 9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "10000,100000,1000000"))
    parser.add_argument("--requests", type=int, default=int(os.environ.get("BENCH_REQUESTS", 100)))
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    rows: list[Row] = []
    plans: list[str] = []
    with bench("customers-list", postgres=True) as run, ExitStack() as stack:
        work, out_dir = run.work, RESULTS
        tag = f"benchlist{uuid.uuid4().hex[:6]}"
        database_url = run.database(f"{tag}_customers")
        password = uuid.uuid4().hex
        ports = {"customers": free_port(), "gateway": free_port()}
        processes = [
            p
            for p in service_processes(
                kafka_bootstrap_servers=run.bootstrap,
                data_dir=work,
                log_dir=out_dir / "logs" / "customers-list",
                ports=ports,
                database_urls={"customers": database_url},
                extra_env={
                    "KAFKA_TOPIC_PREFIX": f"{tag}.",
                    "LOG_LEVEL": "WARNING",
                    "ADMIN_PASSWORD": password,
                },
            )
            if p.name in ("customers", "gateway")
        ]
        # The key the processes find in DATA_DIR, made before they start.
        service_key = service_token_secret_in(work)
        start_all(processes)
        stack.callback(stop_all, processes)
        gateway_url = f"http://127.0.0.1:{ports['gateway']}"
        service_url = f"http://127.0.0.1:{ports['customers']}"
        token = httpx.post(
            f"{gateway_url}/api/v1/auth/token", data={"username": "admin", "password": password}
        ).json()["access_token"]
        seeded = 0
        for size in sizes:
            print(f"bench: seeding to {size:,} customers ...", flush=True)
            started = time.perf_counter()
            asyncio.run(seed.seed(database_url, size - seeded, seed_value=size))
            print(f"  seeded {size - seeded:,} in {time.perf_counter() - started:.0f} s")
            seeded = size

            async def measure_size(size: int = size) -> list[Row]:
                db = Database(database_url)
                url = make_url(database_url).set(drivername="postgresql")
                raw = await asyncpg.connect(url.render_as_string(hide_password=False))
                try:
                    keep = plans if size == sizes[-1] else None
                    return await measure(
                        size,
                        gateway_url,
                        service_url,
                        service_key,
                        token,
                        db,
                        raw,
                        args.requests,
                        keep,
                    )
                finally:
                    await raw.close()
                    await db.dispose()

            rows += asyncio.run(measure_size())
            run.sample_load()
        stop_all(processes)
        run.report(
            f"Customers list ({args.requests} requests per page kind)",
            f"{table(rows)}\n\n"
            "Gateway: GET /api/v1/customers?limit=50 with a bearer token, one request at a time "
            "(gateway -> customers service -> PostgreSQL, page and total).\n"
            "Service: the same page from the customers service directly (GET /customers); hop: "
            "gateway minus service, per pair of requests.\n"
            "SQL: the same statements (page query, then the total's capped count), captured from "
            "the service code and replayed on one raw asyncpg connection.\n"
            "`~` after a total: beyond 1,000 matches the total is an estimate (no filter) or "
            "1,001 meaning more than 1,000.\n",
        )
        (out_dir / "customers-list-plans.md").write_text(
            f"# Query plans of the customers list at {sizes[-1]:,} customers\n\n" + "\n".join(plans)
        )


if __name__ == "__main__":
    main()
