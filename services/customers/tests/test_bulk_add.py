"""Bulk add: a job of numbered customers, each made like a single add, passwords shown once,
and a worker killed mid-job resumed by another without any number made twice."""

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, update

from services.contracts.customers import CustomerInfo
from services.customers import credentials, models, service
from services.customers.bulk import service as bulk_add
from services.customers.bulk.models import CustomerBatch, CustomerBatchItem
from services.customers.models import Account, Customer
from services.customers.schemas import CredentialsIn, CustomerCreate
from services.runtime.db import Database, utcnow
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem
from services.runtime.tests._helpers import of_type, outbox_rows


def job(**changes: object) -> bulk_add.BatchCreate:
    values: dict[str, object] = {
        "webshop_id": "shop-eu",
        "product_id": "basic",
        "plan_id": "basic-1m",
        "extra_product_ids": ["hbo"],
        "count": 5,
        "first_name": "Hotel Aurora",
        "last_name_prefix": "Room ",
    }
    return bulk_add.BatchCreate.model_validate({**values, **changes})


async def queue(db: Database, payload: bulk_add.BatchCreate) -> bulk_add.BatchPublic:
    async with db.transaction() as session:
        return await bulk_add.create_batch(session, payload)


async def run_to_completion(db: Database, outbox: Outbox) -> None:
    worker = bulk_add.BatchWorker(db, outbox, poll_seconds=0.05)
    while (claimed := await worker.claim()) is not None:
        await worker.work(claimed)


async def batch_of(db: Database, batch_id: str) -> bulk_add.BatchPublic:
    async with db.sessions() as session:
        return await bulk_add.get_batch(session, batch_id)


async def items_of(db: Database, batch_id: str) -> bulk_add.BatchItemPage:
    async with db.transaction() as session:
        return await bulk_add.list_items(session, batch_id, limit=100, cursor=None)


async def count(db: Database, model: type[models.Base]) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_job_creates_numbered_customers_each_like_a_single_add(
    db: Database, outbox: Outbox
) -> None:
    batch = await queue(db, job(count=12, first_number=1))
    assert (batch.status, batch.digits, batch.created) == ("queued", 2, 0)

    await run_to_completion(db, outbox)

    done = await batch_of(db, batch.id)
    assert (done.status, done.created, done.failed) == ("completed", 12, 0)
    page = await items_of(db, batch.id)
    assert [i.number for i in page.items] == list(range(1, 13))
    assert page.items[0].last_name == "Room 01" and page.items[-1].last_name == "Room 12"
    async with db.sessions() as session:
        names = set(await session.scalars(select(Customer.last_name)))
    assert names == {f"Room {n:02d}" for n in range(1, 13)}
    rows = await outbox_rows(db, models.outbox)
    created = of_type(rows, "customer.created.v1")
    assert len(created) == 12 and len(of_type(rows, "profile.created.v1")) == 12
    assert {r.data["order"]["product_id"] for r in created} == {"basic"}
    assert {tuple(r.data["order"]["extra_product_ids"]) for r in created} == {("hbo",)}
    assert {r.data["customer_id"] for r in created} == {i.customer_id for i in page.items}


async def test_generated_passwords_are_handed_out_by_the_first_read_only(
    db: Database, outbox: Outbox
) -> None:
    batch = await queue(db, job(count=3))
    await run_to_completion(db, outbox)

    first = await items_of(db, batch.id)
    second = await items_of(db, batch.id)

    assert all(i.password and i.password.isdigit() for i in first.items)
    assert all(i.password is None and i.password_revealed_at for i in second.items)
    async with db.sessions() as session:
        stored = list(await session.scalars(select(CustomerBatchItem.password)))
        hashes = {a.customer_id: a.password_hash for a in await session.scalars(select(Account))}
    assert stored == [None, None, None]
    for item in first.items:
        assert item.customer_id is not None and item.password is not None
        assert credentials.verify_password(hashes[item.customer_id], item.password)


async def test_patterned_logins_and_a_collision_refused_before_the_job_starts(
    db: Database, outbox: Outbox
) -> None:
    batch = await queue(db, job(count=3, login_prefix="aurora-", digits=4, first_number=7))
    await run_to_completion(db, outbox)
    page = await items_of(db, batch.id)
    assert [i.login for i in page.items] == ["aurora-0007", "aurora-0008", "aurora-0009"]

    with pytest.raises(Problem) as taken:
        await queue(db, job(count=5, login_prefix="aurora-", digits=4, first_number=5))
    assert taken.value.status == 409
    assert taken.value.extra["errors"][0]["field"] == "login_prefix"


async def test_a_login_taken_after_queueing_fails_that_item_and_the_job_goes_on(
    db: Database, outbox: Outbox
) -> None:
    batch = await queue(db, job(count=3, login_prefix="room", digits=3))
    taken = CustomerCreate(
        webshop_id="shop-eu",
        product_id="basic",
        plan_id="basic-1m",
        info=CustomerInfo(first_name="Someone", last_name="Else"),
        credentials=CredentialsIn(login="room002", password="secret-1"),
    )
    async with db.transaction() as session:
        await service.create_customer(session, outbox, taken)

    await run_to_completion(db, outbox)

    done = await batch_of(db, batch.id)
    assert (done.status, done.created, done.failed) == ("completed", 2, 1)
    failed = [i for i in (await items_of(db, batch.id)).items if i.status == "failed"]
    assert [(i.number, i.customer_id) for i in failed] == [(2, None)]
    assert failed[0].error and "room002" in failed[0].error


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"count": 0}, "count"),
        ({"count": 10_001}, "count"),
        ({"count": 200, "digits": 2}, "digits"),
        ({"login_prefix": "has space"}, "login_prefix"),
        ({"login_prefix": "a", "digits": 1}, "login_prefix"),
    ],
)
def test_bad_jobs_are_refused_naming_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as error:
        job(**changes)
    assert field in str(error.value)


async def test_a_worker_killed_mid_job_is_resumed_without_duplicates(
    db: Database, outbox: Outbox
) -> None:
    total = 30
    batch = await queue(db, job(count=total))
    doomed = bulk_add.BatchWorker(db, outbox, owner="doomed", lease_seconds=1, poll_seconds=0.05)
    doomed.start()

    async def made() -> int:
        return await count(db, CustomerBatchItem)

    for _ in range(1000):
        if await made() >= 8:
            break
        await asyncio.sleep(0.02)
    # Killed in the middle of whatever it was doing, an item's transaction included.
    await doomed.stop()
    partial = await made()
    assert 8 <= partial < total
    assert (await batch_of(db, batch.id)).status == "running"

    # Its lease still runs: the new worker waits for it to end, then takes over.
    successor = bulk_add.BatchWorker(db, outbox, owner="successor", lease_seconds=1)
    assert await successor.claim() is None
    await asyncio.sleep(1.1)
    claimed = await successor.claim()
    assert claimed is not None
    await successor.work(claimed)

    done = await batch_of(db, batch.id)
    assert (done.status, done.created, done.failed) == ("completed", total, 0)
    async with db.sessions() as session:
        numbers = list(await session.scalars(select(CustomerBatchItem.number)))
        last_names = Counter(await session.scalars(select(Customer.last_name)))
    assert sorted(numbers) == list(range(1, total + 1))
    assert last_names == Counter({f"Room {n:02d}": 1 for n in range(1, total + 1)})
    created = of_type(await outbox_rows(db, models.outbox), "customer.created.v1")
    assert len(created) == total == len({r.data["customer_id"] for r in created})


async def test_passwords_nobody_read_are_dropped_a_week_after_the_job_ended(
    db: Database, outbox: Outbox
) -> None:
    old = await queue(db, job(count=2))
    await run_to_completion(db, outbox)
    recent = await queue(db, job(count=1, last_name_prefix="Suite "))
    await run_to_completion(db, outbox)
    async with db.transaction() as session:
        await session.execute(
            update(CustomerBatch)
            .where(CustomerBatch.id == old.id)
            .values(completed_at=utcnow() - timedelta(days=8))
        )

    dropped = await bulk_add.BatchWorker(db, outbox).drop_unread_passwords()

    assert dropped == 2
    assert [i.password for i in (await items_of(db, old.id)).items] == [None, None]
    assert all(i.password for i in (await items_of(db, recent.id)).items)
