"""The raw chain: a webshop order over the same hops as the services, with nothing else.

The services' order crosses four Kafka hops and three consumer transactions: customers takes
the order (buyer found or created) and tells billing, billing renews the subscription and
writes the ledger and tells customers, customers marks the order answered and replies to the
webshop. The single-transaction raw pipeline of tests/bench/orders.py does all of that in one
hop, which the design (a service per owner, Kafka between them) cannot. This is the best the
same servers can do for the same hops: two processes (customers' database, billing's), each
stage aiokafka `getmany`, one transaction per partition's batch, the batch's records produced
(idempotent, acks from all, as the services' producer), one offset commit. No envelope, no
inbox, no outbox, no tracing: a produce that follows the commit and precedes the offset
commit gives the same at-least-once delivery, with the database's unique keys making a
repeated record harmless.

Run by the benchmark, one process a database:
    python -m tests.bench.raw_chain customers|billing --bootstrap B --database-url U --prefix P
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.customers import credentials
from services.runtime.consumer import BATCH_POLL_MS
from services.runtime.db import create_engine

# The chain's topics after the benchmark's prefix: what the webshop sends, customers' and
# billing's events, and the replies the webshop reads.
ORDERS, PLACED, ACTIVATED, REPLIES = (
    "chain.orders",
    "chain.placed",
    "chain.activated",
    "chain.replies",
)
TOPICS = (ORDERS, PLACED, ACTIVATED, REPLIES)
PROCESSES = ("customers", "billing")

CUSTOMERS_TABLES = (
    "CREATE TABLE IF NOT EXISTS chain_customer (id VARCHAR(36) PRIMARY KEY, "
    "webshop_id VARCHAR(64) NOT NULL, external_id VARCHAR(200) NOT NULL, email VARCHAR(254), "
    "first_name VARCHAR(100), last_name VARCHAR(100), login VARCHAR(64) NOT NULL, "
    "password_hash VARCHAR(200) NOT NULL, status VARCHAR(16) NOT NULL, "
    "UNIQUE (webshop_id, external_id))",
    # The generated password waits here for the reply, as the services' pending order keeps it.
    "CREATE TABLE IF NOT EXISTS chain_order (order_id VARCHAR(200) PRIMARY KEY, "
    "customer_id VARCHAR(36) NOT NULL, password VARCHAR(64), answered BOOLEAN NOT NULL)",
)
BILLING_TABLES = (
    "CREATE TABLE IF NOT EXISTS chain_subscription (customer_id VARCHAR(36) PRIMARY KEY, "
    "product_id VARCHAR(64) NOT NULL, plan_id VARCHAR(64) NOT NULL, "
    "expires_at VARCHAR(40) NOT NULL)",
    "CREATE TABLE IF NOT EXISTS chain_ledger (id VARCHAR(36) PRIMARY KEY, "
    "customer_id VARCHAR(36) NOT NULL, order_id VARCHAR(200) NOT NULL UNIQUE, "
    "amount VARCHAR(20) NOT NULL, currency VARCHAR(3) NOT NULL)",
)

Out = list[tuple[str, dict[str, Any]]]
"""A batch's records for the next hop: (key, body)."""
Apply = Callable[[AsyncConnection, list[dict[str, Any]]], Awaitable[Out]]


def _in(name: str, values: list[str]) -> tuple[str, dict[str, str]]:
    """An IN list of bound parameters (`name0`, `name1`, ...) and their values."""
    names = [f"{name}{n}" for n in range(len(values))]
    return ", ".join(f":{n}" for n in names), dict(zip(names, values, strict=True))


def take_orders(pool: ThreadPoolExecutor) -> Apply:
    """Customers' first hop: buyers found by webshop + external id or created (the generated
    password hashed in `pool`), the orders recorded, one "placed" record per order."""

    async def apply(conn: AsyncConnection, events: list[dict[str, Any]]) -> Out:
        loop = asyncio.get_running_loop()
        keys = [(e["data"]["webshop_id"], e["data"]["buyer"]["external_id"]) for e in events]
        listed, values = _in("x", [x for _, x in keys])
        known = {
            (w, x): i
            for i, w, x in await conn.execute(
                text(
                    "SELECT id, webshop_id, external_id FROM chain_customer "
                    f"WHERE external_id IN ({listed})"
                ),
                values,
            )
        }
        fresh: dict[tuple[str, str], dict[str, Any]] = {}
        for event, key in zip(events, keys, strict=True):
            if key not in known and key not in fresh:
                fresh[key] = event
        passwords = {key: credentials.generate_password() for key in fresh}
        hashes = await asyncio.gather(
            *(loop.run_in_executor(pool, credentials.hash_password, p) for p in passwords.values())
        )
        new_rows = []
        for (key, event), password_hash in zip(fresh.items(), hashes, strict=True):
            buyer = event["data"]["buyer"]
            known[key] = str(uuid.uuid4())
            new_rows.append(
                {
                    "id": known[key],
                    "webshop_id": key[0],
                    "external_id": key[1],
                    "email": buyer["email"],
                    "first_name": buyer["first_name"],
                    "last_name": buyer["last_name"],
                    "login": credentials.generate_login(),
                    "password_hash": password_hash,
                    "status": "pending",
                }
            )
        if new_rows:
            await conn.execute(
                text(
                    "INSERT INTO chain_customer VALUES (:id, :webshop_id, :external_id, :email, "
                    ":first_name, :last_name, :login, :password_hash, :status)"
                ),
                new_rows,
            )
        # The password goes with the order that made the buyer (`fresh` holds that first one).
        first_order_of = {key: e["data"]["order_id"] for key, e in fresh.items()}
        await conn.execute(
            text(
                "INSERT INTO chain_order VALUES (:order_id, :customer_id, :password, false) "
                "ON CONFLICT (order_id) DO NOTHING"
            ),
            [
                {
                    "order_id": e["data"]["order_id"],
                    "customer_id": known[k],
                    "password": passwords[k]
                    if first_order_of.get(k) == e["data"]["order_id"]
                    else None,
                }
                for e, k in zip(events, keys, strict=True)
            ],
        )
        return [
            (
                known[k],
                {
                    "order_id": e["data"]["order_id"],
                    "customer_id": known[k],
                    "product_id": e["data"]["product_id"],
                    "plan_id": e["data"]["plan_id"],
                    "amount": e["data"]["amount"],
                    "currency": e["data"]["currency"],
                },
            )
            for e, k in zip(events, keys, strict=True)
        ]

    return apply


async def renew(conn: AsyncConnection, events: list[dict[str, Any]]) -> Out:
    """Billing's hop: the ledger entry once per order, the subscription opened or renewed,
    one "activated" record per order."""
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    await conn.execute(
        text(
            "INSERT INTO chain_ledger VALUES (:id, :customer_id, :order_id, :amount, :currency) "
            "ON CONFLICT (order_id) DO NOTHING"
        ),
        [
            {
                "id": str(uuid.uuid4()),
                "customer_id": e["customer_id"],
                "order_id": e["order_id"],
                "amount": e["amount"],
                "currency": e["currency"],
            }
            for e in events
        ],
    )
    await conn.execute(
        text(
            "INSERT INTO chain_subscription VALUES (:customer_id, :product_id, :plan_id, "
            ":expires_at) ON CONFLICT (customer_id) DO UPDATE SET "
            "product_id = excluded.product_id, plan_id = excluded.plan_id, "
            "expires_at = excluded.expires_at"
        ),
        [
            {
                "customer_id": e["customer_id"],
                "product_id": e["product_id"],
                "plan_id": e["plan_id"],
                "expires_at": expires,
            }
            for e in events
        ],
    )
    return [
        (
            e["customer_id"],
            {"order_id": e["order_id"], "customer_id": e["customer_id"], "expires_at": expires},
        )
        for e in events
    ]


async def answer(conn: AsyncConnection, events: list[dict[str, Any]]) -> Out:
    """Customers' last hop: the customers active, the orders answered (the password handed
    over once), one reply per order carrying the login."""
    customers, customer_values = _in("c", sorted({e["customer_id"] for e in events}))
    orders, order_values = _in("o", [e["order_id"] for e in events])
    await conn.execute(
        text(f"UPDATE chain_customer SET status = 'active' WHERE id IN ({customers})"),
        customer_values,
    )
    found = {
        order_id: (login, password)
        for order_id, login, password in await conn.execute(
            text(
                "SELECT o.order_id, c.login, o.password FROM chain_order o "
                f"JOIN chain_customer c ON c.id = o.customer_id WHERE o.order_id IN ({orders})"
            ),
            order_values,
        )
    }
    await conn.execute(
        text(
            f"UPDATE chain_order SET answered = true, password = NULL WHERE order_id IN ({orders})"
        ),
        order_values,
    )
    return [
        (
            e["order_id"],
            {
                "order_id": e["order_id"],
                "customer_id": e["customer_id"],
                "login": found[e["order_id"]][0],
                "password": found[e["order_id"]][1],
                "expires_at": e["expires_at"],
            },
        )
        for e in events
    ]


async def hop(
    bootstrap: str,
    engine: AsyncEngine,
    producer: AIOKafkaProducer,
    source: str,
    target: str,
    apply: Apply,
    batch_size: int,
) -> None:
    """One stage until cancelled: getmany; per partition's batch one transaction, its records
    produced to `target` and delivered, one offset commit."""
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=f"{source}.chain",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=batch_size,
    )
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=BATCH_POLL_MS, max_records=batch_size)
            for tp, records in batches.items():
                events = [json.loads(r.value or b"{}") for r in records]
                async with engine.begin() as conn:
                    out = await apply(conn, events)
                deliveries = [
                    await producer.send(target, json.dumps(body).encode(), key=key.encode())
                    for key, body in out
                ]
                await asyncio.gather(*deliveries)
                await consumer.commit({tp: records[-1].offset + 1})
    finally:
        await consumer.stop()


async def run(process: str, bootstrap: str, database_url: str, prefix: str, batch: int) -> None:
    engine = create_engine(database_url)
    tables = CUSTOMERS_TABLES if process == "customers" else BILLING_TABLES
    async with engine.begin() as conn:
        for statement in tables:
            await conn.execute(text(statement))
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5
    )
    await producer.start()
    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="argon2")
    if process == "customers":
        stages = [
            hop(
                bootstrap,
                engine,
                producer,
                prefix + ORDERS,
                prefix + PLACED,
                take_orders(pool),
                batch,
            ),
            hop(bootstrap, engine, producer, prefix + ACTIVATED, prefix + REPLIES, answer, batch),
        ]
    else:
        stages = [
            hop(bootstrap, engine, producer, prefix + PLACED, prefix + ACTIVATED, renew, batch)
        ]
    print("ready", flush=True)
    try:
        await asyncio.gather(*stages)
    finally:
        await producer.stop()
        await engine.dispose()
        pool.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("process", choices=PROCESSES)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(run(args.process, args.bootstrap, args.database_url, args.prefix, args.batch_size))


if __name__ == "__main__":
    main()
