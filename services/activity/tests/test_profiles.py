"""Profiles activity knows: the apps' reports for a profile the customers service has not
announced are held, applied in order once it is, dead-lettered with the reason when the grace
period ends first; the operator's removals are sent to the apps as commands."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from services.activity import app_items, app_reports, models, profiles, recordings, saved_items
from services.activity.app import SPEC
from services.activity.models import HeldAppReport
from services.activity.tests.conftest import Feed, dead_letters, process_batch_seeing_statements
from services.activity.tests.events import (
    CUSTOMER,
    favorite,
    now,
    profile_created,
    scheduled,
)
from services.contracts import topics
from services.contracts.apps import FavoriteRemovedV1, RecordingCompletedV1, WatchlistAddedV1
from services.contracts.customers import CustomerErasedV1, ProfileDeletedV1
from services.contracts.envelope import CloudEvent
from services.runtime.consumer import Incoming
from services.runtime.db import Database, utcnow
from services.runtime.service_app import Runtime, create_app
from services.runtime.service_auth import ServiceTokenAuth
from services.runtime.tests._helpers import consumer_record, event_bytes, outbox_rows

NEW = "p-new"


async def favorite_ids(db: Database, profile_id: str | None = None) -> list[str]:
    async with db.sessions() as session:
        page = await saved_items.list_items(
            session, CUSTOMER, "favorites", profile_id=profile_id, limit=50, cursor=None
        )
    return [i.item_id for i in page.items]


async def held(db: Database) -> int:
    async with db.sessions() as session:
        return await session.scalar(select(func.count()).select_from(HeldAppReport)) or 0


async def sweep(db: Database, runtime: Runtime, *, later: timedelta) -> int:
    return await profiles.dead_letter_overdue(db, runtime.consumer, held_before=utcnow() + later)


async def test_a_report_for_a_profile_not_announced_yet_waits_for_it_in_order(
    db: Database, feed: Feed, runtime: Runtime
) -> None:
    # The app created the profile and saved to it at once; the announcement comes after.
    assert await feed(favorite("ch-1", profile_id=NEW)) == "handled"
    assert await feed(favorite("ch-2", profile_id=NEW)) == "handled"
    assert await feed(FavoriteRemovedV1(**favorite("ch-1", profile_id=NEW).model_dump())) == (
        "handled"
    )
    assert await feed(scheduled("r-new", profile_id=NEW, starts_at=now() - timedelta(hours=2)))
    done = RecordingCompletedV1(customer_id=CUSTOMER, recording_id="r-new", size_bytes=9, at=now())
    assert await feed(done) == "handled"
    assert await favorite_ids(db, NEW) == [] and await held(db) == 5

    assert await feed(profile_created(NEW)) == "handled"

    assert await favorite_ids(db, NEW) == ["ch-2"]  # ch-1 was added, then removed
    async with db.sessions() as session:
        page = await recordings.list_recordings(
            session, CUSTOMER, profile_id=NEW, limit=10, cursor=None
        )
    assert [(r.id, r.state, r.size_bytes) for r in page.items] == [("r-new", "completed", 9)]
    assert await held(db) == 0
    assert dead_letters(runtime).sent == []
    # Known from now on: applied at once.
    await feed(favorite("ch-3", profile_id=NEW))
    assert await favorite_ids(db, NEW) == ["ch-3", "ch-2"]


async def test_a_run_of_announcements_is_learnt_together_and_releases_only_its_profiles(
    db: Database, feed: Feed, runtime: Runtime
) -> None:
    other = "c0ffee00-0000-4000-8000-000000000301"
    for profile_id, customer_id in ((NEW, CUSTOMER), ("p-two", other), ("p-later", CUSTOMER)):
        report = favorite(f"ch-{profile_id}", profile_id=profile_id)
        assert await feed(report.model_copy(update={"customer_id": customer_id})) == "handled"
    assert await held(db) == 3
    values = [
        event_bytes(profile_created(NEW)),
        event_bytes(profile_created("p-two", customer_id=other)),
        event_bytes(profile_created(NEW)),  # delivered twice in one poll
    ]
    records = [
        consumer_record(topics.CUSTOMERS_EVENTS, value, offset=i) for i, value in enumerate(values)
    ]
    statements = await process_batch_seeing_statements(runtime, records)

    assert await favorite_ids(db, NEW) == [f"ch-{NEW}"]
    async with db.sessions() as session:
        page = await saved_items.list_items(
            session, other, "favorites", profile_id="p-two", limit=50, cursor=None
        )
    assert [i.item_id for i in page.items] == ["ch-p-two"]
    assert await held(db) == 1  # p-later is not announced yet: its report still waits
    # The customers' locks, the profiles and the held reports: one statement each for the run.
    assert sum(1 for s in statements if s.startswith("INSERT INTO KNOWN_PROFILE")) == 1
    assert sum(1 for s in statements if s.startswith("SELECT DEVICE_LIMIT.CUSTOMER_ID,")) == 1


async def test_a_report_for_a_profile_never_announced_is_dead_lettered_after_the_grace(
    db: Database, feed: Feed, runtime: Runtime
) -> None:
    await feed(favorite("ch-1", profile_id="p-refused"))
    assert await sweep(db, runtime, later=-timedelta(minutes=1)) == 0  # within the grace

    assert await sweep(db, runtime, later=timedelta(seconds=1)) == 1

    [letter] = dead_letters(runtime).sent
    assert letter.topic == topics.dlq(topics.APPS_EVENTS)
    assert letter.key == CUSTOMER.encode()
    reason = letter.header("x-dlq-reason")
    assert reason.startswith("favorite.added.v1: profile p-refused is not a profile of customer")
    assert letter.header("x-dlq-consumer") == "activity"
    assert await held(db) == 0 and await favorite_ids(db) == []
    # Replayed once the profile exists, it is handled, not taken for a duplicate.
    await feed(profile_created("p-refused"))
    assert letter.value is not None
    record = consumer_record(topics.APPS_EVENTS, letter.value)
    assert await runtime.consumer.process(topics.APPS_EVENTS, record) == "handled"
    assert await favorite_ids(db, "p-refused") == ["ch-1"]


async def test_a_deleted_profile_is_unknown_again(
    db: Database, feed: Feed, runtime: Runtime
) -> None:
    await feed(ProfileDeletedV1(customer_id=CUSTOMER, profile_id="p-kids", deleted_at=now()))

    await feed(favorite("late", profile_id="p-kids"))

    assert await favorite_ids(db) == [] and await held(db) == 1
    assert await sweep(db, runtime, later=timedelta(seconds=1)) == 1


async def test_an_impossible_recording_is_refused_at_once_not_held(
    db: Database, feed: Feed, runtime: Runtime
) -> None:
    backwards = scheduled("backwards", profile_id=NEW)
    backwards = backwards.model_copy(update={"ends_at": backwards.starts_at - timedelta(hours=1)})

    assert await feed(backwards) == "dead_lettered"
    assert await held(db) == 0


async def test_erasure_drops_the_held_reports(db: Database, feed: Feed, runtime: Runtime) -> None:
    await feed(favorite("ch-1", profile_id=NEW))
    await feed(CustomerErasedV1(customer_id=CUSTOMER, erased_at=now()))
    assert await held(db) == 0
    assert await sweep(db, runtime, later=timedelta(seconds=1)) == 0


@pytest.fixture
async def api(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    settings = SPEC.settings(database_url=db.url, port=0)
    app = create_app(SPEC, settings)
    auth = ServiceTokenAuth(settings.service_token_key, actor="tests")
    try:
        transport = httpx.ASGITransport(app=app)
        yield httpx.AsyncClient(transport=transport, base_url="http://activity", auth=auth)
    finally:
        await app.state.runtime.db.dispose()


async def test_the_operators_removals_are_sent_to_the_apps(
    db: Database, feed: Feed, api: httpx.AsyncClient
) -> None:
    await feed(favorite("ch-1", profile_id="p-kids"))
    await feed(
        WatchlistAddedV1(
            customer_id=CUSTOMER,
            profile_id="p-main",
            item_type="movie",
            item_id="m-1",
            title=None,
            at=now(),
        )
    )
    await feed(scheduled("r-1", profile_id="p-kids"))
    async with db.sessions() as session:
        [fav] = (
            await saved_items.list_items(
                session, CUSTOMER, "favorites", profile_id=None, limit=5, cursor=None
            )
        ).items
        [entry] = (
            await saved_items.list_items(
                session, CUSTOMER, "watchlist", profile_id=None, limit=5, cursor=None
            )
        ).items

    async with api:
        base = f"/customers/{CUSTOMER}"
        assert (await api.delete(f"{base}/favorites/{fav.id}")).status_code == 204
        assert (await api.delete(f"{base}/watchlist/{entry.id}")).status_code == 204
        assert (await api.delete(f"{base}/recordings/r-1")).status_code == 204
        assert (await api.delete(f"{base}/recordings/r-1")).status_code == 404

    commands = [r for r in await outbox_rows(db, models.outbox) if r.topic == topics.APPS_COMMANDS]
    assert [(c.type, c.key, c.data) for c in commands] == [
        (
            "favorite.remove.v1",
            CUSTOMER,
            {
                "customer_id": CUSTOMER,
                "profile_id": "p-kids",
                "item_type": "channel",
                "item_id": "ch-1",
            },
        ),
        (
            "watchlist.remove.v1",
            CUSTOMER,
            {
                "customer_id": CUSTOMER,
                "profile_id": "p-main",
                "item_type": "movie",
                "item_id": "m-1",
            },
        ),
        (
            "recording.delete.v1",
            CUSTOMER,
            {"customer_id": CUSTOMER, "profile_id": "p-kids", "recording_id": "r-1"},
        ),
    ]


async def test_a_report_decided_while_its_profile_is_being_learnt_is_not_stranded(
    db: Database, runtime: Runtime
) -> None:
    """The announcement (customers.events) and the report (apps.events) in concurrent
    transactions: the report's check runs before the announcement commits. Holding takes the
    customer's lock, which learning holds, so the report waits and then finds the profile."""
    if db.dialect == "sqlite":
        pytest.skip("SQLite admits one writer at a time; the race needs PostgreSQL")
    report = favorite("ch-race", profile_id=NEW)
    envelope = CloudEvent.model_validate_json(event_bytes(report))
    learning = asyncio.Event()
    release = asyncio.Event()

    async def announce() -> None:
        async with db.transaction() as session:
            await profiles.learn(session, runtime.consumer, [profile_created(NEW)], app_items.apply)
            learning.set()
            await release.wait()

    async def receive() -> None:
        await learning.wait()
        async with db.transaction() as session:
            await app_reports.apply(
                session, runtime.outbox, [Incoming(envelope, report)], default_policy="reject"
            )

    announcing = asyncio.create_task(announce())
    receiving = asyncio.create_task(receive())
    await learning.wait()
    await asyncio.sleep(0.5)  # the report is checked, and waits on the customer's lock
    assert not receiving.done()
    release.set()
    await asyncio.gather(announcing, receiving)

    assert await favorite_ids(db, NEW) == ["ch-race"]
    assert await held(db) == 0
