"""Favorites, watchlist and recordings from the apps: idempotent, listed per profile in keyset
pages, removed by operators, with profiles and with the customer; bad reports dead-lettered."""

from datetime import timedelta

import pytest

from services.activity import devices, models, recordings, saved_items, timeline
from services.activity.schemas import SavedItemPage
from services.activity.tests.conftest import Feed, dead_letters
from services.activity.tests.events import CUSTOMER, activated, connected, favorite, now, scheduled
from services.contracts import topics
from services.contracts.apps import (
    FavoriteRemovedV1,
    RecordingCompletedV1,
    RecordingDeletedV1,
    RecordingFailedV1,
    WatchlistAddedV1,
)
from services.contracts.customers import CustomerErasedV1, ProfileDeletedV1
from services.runtime.db import Database
from services.runtime.problems import Problem
from services.runtime.service_app import Runtime
from services.runtime.tests._helpers import of_type, outbox_rows

OFFLINE_AFTER = timedelta(seconds=90)


async def favorites(
    db: Database, *, profile_id: str | None = None, limit: int = 50, cursor: str | None = None
) -> SavedItemPage:
    async with db.sessions() as session:
        return await saved_items.list_items(
            session, CUSTOMER, "favorites", profile_id=profile_id, limit=limit, cursor=cursor
        )


async def test_a_favorite_added_twice_is_one_item_and_removal_removes_it(
    db: Database, feed: Feed
) -> None:
    added = favorite("ch-1")
    await feed(added)
    await feed(added.model_copy(update={"at": now()}))  # the app sent it again, new event id

    page = await favorites(db)
    assert [(i.item_id, i.profile_id, i.title) for i in page.items] == [
        ("ch-1", "p-main", "Channel ch-1")
    ]
    assert page.items[0].added_at == added.at

    await feed(FavoriteRemovedV1(**added.model_dump()))
    assert (await favorites(db)).items == []


async def test_favorites_are_listed_per_profile_newest_first_in_keyset_pages(
    db: Database, feed: Feed
) -> None:
    start = now() - timedelta(hours=1)
    for n in range(5):
        await feed(favorite(f"ch-{n}", at=start + timedelta(minutes=n)))
    await feed(favorite("kids-1", profile_id="p-kids", at=start))

    first = await favorites(db, profile_id="p-main", limit=2)
    assert [i.item_id for i in first.items] == ["ch-4", "ch-3"]
    assert first.next_cursor is not None
    second = await favorites(db, profile_id="p-main", limit=2, cursor=first.next_cursor)
    third = await favorites(db, profile_id="p-main", limit=2, cursor=second.next_cursor)
    assert [i.item_id for i in second.items + third.items] == ["ch-2", "ch-1", "ch-0"]
    assert third.next_cursor is None
    assert [i.item_id for i in (await favorites(db, profile_id="p-kids")).items] == ["kids-1"]
    with pytest.raises(Problem) as bad:
        await favorites(db, cursor="not-a-cursor")
    assert bad.value.status == 422
    watchlist_cursor = saved_items.SAVED_ITEMS["watchlist"].encode((start, "x"))
    with pytest.raises(Problem) as bad:
        await favorites(db, cursor=watchlist_cursor)
    assert bad.value.extra["errors"][0]["field"] == "cursor"


async def test_the_operator_removes_one_item_by_its_id(
    db: Database, feed: Feed, runtime: Runtime
) -> None:
    await feed(favorite("ch-1"))
    await feed(
        WatchlistAddedV1(
            customer_id=CUSTOMER,
            profile_id="p-main",
            item_type="movie",
            item_id="m-1",
            title="A Movie",
            at=now(),
        )
    )
    [item] = (await favorites(db)).items
    async with db.transaction() as session:
        with pytest.raises(Problem) as elsewhere:
            # The favorite's id is not on the watchlist.
            await saved_items.remove_by_id(session, runtime.outbox, CUSTOMER, "watchlist", item.id)
    assert elsewhere.value.status == 404
    async with db.transaction() as session:
        await saved_items.remove_by_id(session, runtime.outbox, CUSTOMER, "favorites", item.id)
    assert (await favorites(db)).items == []
    async with db.sessions() as session:
        watchlist = await saved_items.list_items(
            session, CUSTOMER, "watchlist", profile_id=None, limit=10, cursor=None
        )
    assert [(i.item_type, i.item_id) for i in watchlist.items] == [("movie", "m-1")]


async def test_recordings_move_from_scheduled_to_completed_or_failed(
    db: Database, feed: Feed
) -> None:
    await feed(scheduled("future"))
    await feed(scheduled("running", starts_at=now() - timedelta(minutes=10)))
    await feed(scheduled("done", starts_at=now() - timedelta(hours=3)))
    await feed(scheduled("broken", starts_at=now() - timedelta(hours=4)))
    await feed(
        RecordingCompletedV1(customer_id=CUSTOMER, recording_id="done", size_bytes=123456, at=now())
    )
    await feed(
        RecordingFailedV1(customer_id=CUSTOMER, recording_id="broken", reason="no signal", at=now())
    )

    async with db.sessions() as session:
        page = await recordings.list_recordings(
            session, CUSTOMER, profile_id=None, limit=10, cursor=None
        )
    assert [(r.id, r.state) for r in page.items] == [
        ("future", "scheduled"),
        ("running", "recording"),
        ("done", "completed"),
        ("broken", "failed"),
    ]
    done = page.items[2]
    assert (done.size_bytes, done.channel_id, done.title) == (123456, "ch-1", "Show done")
    assert page.items[3].failure_reason == "no signal"

    await feed(RecordingDeletedV1(customer_id=CUSTOMER, recording_id="future", at=now()))
    async with db.sessions() as session:
        page = await recordings.list_recordings(
            session, CUSTOMER, profile_id=None, limit=10, cursor=None
        )
    assert "future" not in [r.id for r in page.items]


async def test_impossible_recordings_are_dead_lettered_with_the_reason(
    db: Database, feed: Feed, runtime: Runtime
) -> None:
    backwards = scheduled("backwards")
    backwards = backwards.model_copy(update={"ends_at": backwards.starts_at - timedelta(hours=1)})
    assert await feed(backwards) == "dead_lettered"
    await feed(scheduled("r-1", starts_at=now() - timedelta(hours=2)))
    await feed(RecordingFailedV1(customer_id=CUSTOMER, recording_id="r-1", reason="x", at=now()))
    late_success = RecordingCompletedV1(
        customer_id=CUSTOMER, recording_id="r-1", size_bytes=1, at=now()
    )
    assert await feed(late_success) == "dead_lettered"

    reasons = [s.header("x-dlq-reason") for s in dead_letters(runtime).sent]
    assert "ends" in reasons[0] and "before it starts" in reasons[0]
    assert "already failed" in reasons[1]
    assert {s.topic for s in dead_letters(runtime).sent} == {f"{topics.APPS_EVENTS}.dlq"}


async def test_a_deleted_profile_loses_its_items_and_recordings_only(
    db: Database, feed: Feed
) -> None:
    await feed(favorite("ch-1", profile_id="p-kids"))
    await feed(favorite("ch-2", profile_id="p-main"))
    await feed(scheduled("r-kids", profile_id="p-kids"))
    await feed(scheduled("r-main", profile_id="p-main"))
    await feed(ProfileDeletedV1(customer_id=CUSTOMER, profile_id="p-kids", deleted_at=now()))

    assert [i.item_id for i in (await favorites(db)).items] == ["ch-2"]
    async with db.sessions() as session:
        page = await recordings.list_recordings(
            session, CUSTOMER, profile_id=None, limit=10, cursor=None
        )
    assert [r.id for r in page.items] == ["r-main"]


async def test_erasure_removes_everything_and_a_replay_changes_nothing(
    db: Database, feed: Feed
) -> None:
    await feed(activated(2))
    await feed(connected("a"))
    await feed(favorite("ch-1"))
    await feed(scheduled("r-1"))
    erased = CustomerErasedV1(customer_id=CUSTOMER, erased_at=now())
    await feed(erased)
    await feed(erased)  # a new delivery of the same news (another event id)
    # What the apps and billing still send afterwards does not bring anything back.
    await feed(favorite("ch-2"))
    await feed(activated(2))
    await feed(connected("b"))

    async with db.sessions() as session:
        device_page = await devices.list_devices(session, CUSTOMER, offline_after=OFFLINE_AFTER)
        history = await timeline.timeline(session, CUSTOMER, limit=200)
    assert device_page.items == [] and device_page.max_devices is None
    assert (await favorites(db)).items == []
    assert history.items == []
    rows = await outbox_rows(db, models.outbox)
    # "a" connected when erased, "b" refused afterwards: both apps are told.
    assert [(r.data["device_id"], r.data["reason"]) for r in of_type(rows, "device.logout.v1")] == [
        ("a", "erased"),
        ("b", "erased"),
    ]
    assert [r.data["reason"] for r in of_type(rows, "device.rejected.v1")] == ["customer_erased"]


async def test_the_timeline_lists_the_activity_newest_first(db: Database, feed: Feed) -> None:
    start = now() - timedelta(hours=5)
    await feed(activated(1))
    await feed(connected("a", at=start))
    await feed(connected("b", at=start + timedelta(hours=1)))
    await feed(favorite("ch-1", at=start + timedelta(hours=2)))

    async with db.sessions() as session:
        history = await timeline.timeline(session, CUSTOMER, limit=200)
        short = await timeline.timeline(session, CUSTOMER, limit=2)
    assert [i.kind for i in history.items] == [
        "favorite.added",
        "device.rejected",
        "device.connected",
    ]
    assert all(i.service == "activity" for i in history.items)
    assert history.items[1].ref == "b" and "limit" in history.items[1].summary
    assert [i.at for i in history.items] == sorted((i.at for i in history.items), reverse=True)
    assert [i.kind for i in short.items] == ["favorite.added", "device.rejected"]
