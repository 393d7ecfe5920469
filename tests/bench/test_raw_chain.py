"""The raw chain's hops do the work they claim: a benchmark's baseline that skipped part of the
services' work would flatter them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.customers import credentials
from services.runtime.db import create_engine
from tests.bench import raw_chain
from tests.system.conftest import order_paid


@pytest.fixture
async def engines(tmp_path: Path) -> AsyncIterator[dict[str, AsyncEngine]]:
    made = {
        "customers": create_engine(f"sqlite+aiosqlite:///{tmp_path / 'customers.db'}"),
        "billing": create_engine(f"sqlite+aiosqlite:///{tmp_path / 'billing.db'}"),
    }
    for tables, engine in (
        (raw_chain.CUSTOMERS_TABLES, made["customers"]),
        (raw_chain.BILLING_TABLES, made["billing"]),
    ):
        async with engine.begin() as conn:
            for statement in tables:
                await conn.execute(text(statement))
    yield made
    for engine in made.values():
        await engine.dispose()


async def _through_the_chain(
    engines: dict[str, AsyncEngine], orders: list[dict[str, Any]], pool: ThreadPoolExecutor
) -> list[dict[str, Any]]:
    hops: list[tuple[AsyncEngine, raw_chain.Apply]] = [
        (engines["customers"], raw_chain.take_orders(pool)),
        (engines["billing"], raw_chain.renew),
        (engines["customers"], raw_chain.answer),
    ]
    events = orders
    for engine, apply in hops:
        async with engine.begin() as conn:
            events = [body for _, body in await apply(conn, events)]
    return events


async def test_a_new_buyer_then_a_renewal_and_a_repeated_order(
    engines: dict[str, AsyncEngine],
) -> None:
    buyer = {"external_id": "b-1", "email": "b1@example.com", "first_name": "A", "last_name": "B"}
    first, renewal = order_paid(buyer=buyer), order_paid(buyer=buyer)
    with ThreadPoolExecutor(max_workers=1) as pool:
        replies = await _through_the_chain(engines, [first, renewal], pool)
        repeated = await _through_the_chain(engines, [renewal], pool)

    new, renewed = replies
    assert new["customer_id"] == renewed["customer_id"] == repeated[0]["customer_id"]
    assert new["login"] == renewed["login"]
    # The generated password travels once, with the order that made the buyer.
    assert new["password"] and renewed["password"] is None and repeated[0]["password"] is None
    async with engines["customers"].connect() as conn:
        password_hash, status = (
            await conn.execute(text("SELECT password_hash, status FROM chain_customer"))
        ).one()
        waiting = await conn.scalar(text("SELECT count(*) FROM chain_order WHERE NOT answered"))
    assert credentials.verify_password(password_hash, new["password"])
    assert status == "active" and waiting == 0
    async with engines["billing"].connect() as conn:
        entries = await conn.scalar(text("SELECT count(*) FROM chain_ledger"))
        subscriptions = await conn.scalar(text("SELECT count(*) FROM chain_subscription"))
    assert entries == 2 and subscriptions == 1  # the repeated order is not charged again
