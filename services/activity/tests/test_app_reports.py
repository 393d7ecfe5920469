"""A partition's batch of app reports applied together: the same outcome as one by one
(duplicates once, last-seen only forwards, the limit held, a removal between two adds), in one
statement per kind where the apps send many, and a poison record dead-lettered alone."""

from datetime import UTC, datetime, timedelta

from aiokafka.structs import ConsumerRecord
from sqlalchemy import event, select

from services.activity import models, saved_items
from services.activity.models import Device
from services.activity.tests.conftest import Feed, dead_letters
from services.activity.tests.events import CUSTOMER, activated, connected, scheduled
from services.contracts import topics
from services.contracts.apps import (
    DeviceHeartbeatV1,
    FavoriteAddedV1,
    FavoriteRemovedV1,
    RecordingCompletedV1,
    RecordingDeletedV1,
    RecordingFailedV1,
)
from services.contracts.envelope import EventData
from services.runtime.db import Database
from services.runtime.service_app import Runtime
from services.runtime.tests._helpers import consumer_record, event_bytes, of_type, outbox_rows

OTHER = "c0ffee00-0000-4000-8000-000000000005"
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return START + timedelta(minutes=minutes)


def beat(device_id: str, minutes: int, customer_id: str = CUSTOMER) -> DeviceHeartbeatV1:
    return DeviceHeartbeatV1(customer_id=customer_id, device_id=device_id, at=at(minutes))


def item(kind: type[FavoriteAddedV1 | FavoriteRemovedV1], item_id: str, minutes: int) -> EventData:
    return kind(
        customer_id=CUSTOMER,
        profile_id="p-main",
        item_type="channel",
        item_id=item_id,
        title=f"{item_id} at {minutes}",
        at=at(minutes),
    )


class Records:
    """Hand-built records of one partition; `again` repeats an earlier one (same event id)."""

    def __init__(self) -> None:
        self.records: list[ConsumerRecord[bytes, bytes]] = []

    def add(self, data: EventData) -> bytes:
        raw = event_bytes(data)
        self.again(raw)
        return raw

    def again(self, raw: bytes) -> None:
        offset = len(self.records)
        self.records.append(consumer_record(topics.APPS_EVENTS, raw, offset=offset))


async def last_seen(db: Database) -> dict[tuple[str, str], datetime]:
    async with db.sessions() as session:
        rows = (await session.scalars(select(Device))).all()
    return {(d.customer_id, d.id): d.last_seen_at for d in rows}


def statements_on(db: Database) -> list[str]:
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    return statements


async def test_a_mixed_batch_ends_as_one_by_one_would_leave_it(
    db: Database, runtime: Runtime, feed: Feed
) -> None:
    await feed(activated(2))
    await feed(activated(3, customer_id=OTHER))
    await feed(connected("stb-o", customer_id=OTHER, at=at(0)))
    batch = Records()
    batch.add(beat("tv-1", 1))  # before its connect: the device is not known yet
    first_connect = batch.add(connected("tv-1", at=at(0)))
    for device_id in ("tv-2", "tv-3", "tv-4"):
        batch.add(connected(device_id, at=at(0)))
    repeated = batch.add(beat("tv-1", 5))
    batch.again(repeated)
    batch.add(beat("tv-1", 10))
    batch.add(beat("tv-1", 2))  # older, arrives later
    batch.add(beat("tv-3", 4))  # a refused device
    batch.add(item(FavoriteAddedV1, "ch-1", 1))
    batch.add(item(FavoriteRemovedV1, "ch-1", 2))
    batch.add(item(FavoriteAddedV1, "ch-1", 3))
    batch.add(item(FavoriteAddedV1, "ch-1", 4))
    batch.add(item(FavoriteAddedV1, "ch-2", 5))
    batch.add(item(FavoriteRemovedV1, "ch-gone", 5))
    for minutes in (7, 20, 8):
        batch.add(beat("stb-o", minutes, customer_id=OTHER))
    batch.again(first_connect)

    await runtime.consumer.process_batch(batch.records)

    assert await last_seen(db) == {
        (CUSTOMER, "tv-1"): at(10),
        (CUSTOMER, "tv-2"): at(0),
        (OTHER, "stb-o"): at(20),
    }
    rows = await outbox_rows(db, models.outbox)
    registered = of_type(rows, "device.registered.v1")
    assert [(r.key, r.data["device_id"]) for r in registered] == [
        (OTHER, "stb-o"),
        (CUSTOMER, "tv-1"),
        (CUSTOMER, "tv-2"),
    ]
    rejected = of_type(rows, "device.rejected.v1")
    assert [r.data["device_id"] for r in rejected] == ["tv-3", "tv-4"]
    async with db.sessions() as session:
        page = await saved_items.list_items(
            session, CUSTOMER, "favorites", profile_id=None, limit=10, cursor=None
        )
    found = {i.item_id: (i.title, i.added_at) for i in page.items}
    assert found == {"ch-1": ("ch-1 at 4", at(3)), "ch-2": ("ch-2 at 5", at(5))}
    assert dead_letters(runtime).sent == []


async def test_heartbeats_of_a_batch_are_one_statement_and_never_move_backwards(
    db: Database, runtime: Runtime, feed: Feed
) -> None:
    await feed(activated(3))
    for device_id in ("a", "b", "c"):
        await feed(connected(device_id, at=at(0)))
    first = Records()
    for device_id in ("a", "b", "c"):
        first.add(beat(device_id, 30))
    await runtime.consumer.process_batch(first.records)
    statements = statements_on(runtime.db)  # the consumer's own engine
    second = Records()
    for minutes in range(1, 40):
        second.add(beat("abc"[minutes % 3], minutes))

    await runtime.consumer.process_batch(second.records)

    # a's newest in the batch (39) is newer than 30; b's (37) too; c's (38) too.
    assert await last_seen(db) == {
        (CUSTOMER, "a"): at(39),
        (CUSTOMER, "b"): at(37),
        (CUSTOMER, "c"): at(38),
    }
    device_writes = [s for s in statements if s.lstrip().startswith("UPDATE device")]
    assert len(device_writes) == 1, statements
    older = Records()
    older.add(beat("a", 35))
    await runtime.consumer.process_batch(older.records)
    assert (await last_seen(db))[(CUSTOMER, "a")] == at(39)


async def test_a_poison_report_in_a_batch_is_dead_lettered_and_its_neighbours_applied(
    db: Database, runtime: Runtime, feed: Feed
) -> None:
    await feed(activated(2))
    await feed(connected("tv-1", at=at(0)))
    backwards = scheduled("rec-bad", minutes=-30)
    batch = Records()
    batch.add(beat("tv-1", 1))
    batch.add(item(FavoriteAddedV1, "ch-1", 1))
    poison = batch.add(backwards)
    batch.add(scheduled("rec-good"))
    batch.add(beat("tv-1", 3))
    batch.add(item(FavoriteAddedV1, "ch-2", 2))

    await runtime.consumer.process_batch(batch.records)

    [dead] = dead_letters(runtime).sent
    assert dead.value == poison
    assert "before it starts" in dead.header("x-dlq-reason")
    assert (await last_seen(db))[(CUSTOMER, "tv-1")] == at(3)
    async with db.sessions() as session:
        page = await saved_items.list_items(
            session, CUSTOMER, "favorites", profile_id=None, limit=10, cursor=None
        )
        recorded = (await session.scalars(select(models.Recording.id))).all()
    assert sorted(i.item_id for i in page.items) == ["ch-1", "ch-2"]
    assert recorded == ["rec-good"]


async def test_a_batch_of_recording_reports_ends_as_one_by_one_with_one_read_and_one_write(
    db: Database, runtime: Runtime, feed: Feed
) -> None:
    earlier = START - timedelta(hours=3)
    await feed(scheduled("kept", starts_at=earlier))
    await feed(scheduled("failed-before", starts_at=earlier))
    await feed(
        RecordingFailedV1(customer_id=CUSTOMER, recording_id="failed-before", reason="x", at=START)
    )
    batch = Records()
    batch.add(scheduled("new", starts_at=earlier))
    batch.add(scheduled("new", starts_at=earlier + timedelta(hours=1)))  # repeated: ignored
    batch.add(
        RecordingCompletedV1(customer_id=CUSTOMER, recording_id="new", size_bytes=5, at=START)
    )
    batch.add(
        RecordingCompletedV1(customer_id=CUSTOMER, recording_id="kept", size_bytes=7, at=START)
    )
    late = batch.add(  # it failed already: refused, set aside alone
        RecordingCompletedV1(
            customer_id=CUSTOMER, recording_id="failed-before", size_bytes=1, at=START
        )
    )
    batch.add(RecordingDeletedV1(customer_id=CUSTOMER, recording_id="kept", at=START))
    batch.add(scheduled("kept", starts_at=earlier))  # scheduled anew after its deletion
    batch.add(RecordingFailedV1(customer_id=CUSTOMER, recording_id="gone", reason="y", at=START))
    batch.add(scheduled("short-lived"))
    batch.add(RecordingDeletedV1(customer_id=CUSTOMER, recording_id="short-lived", at=START))
    statements = statements_on(runtime.db)

    await runtime.consumer.process_batch(batch.records)

    [dead] = dead_letters(runtime).sent
    assert dead.value == late
    assert "already failed; it cannot become completed" in dead.header("x-dlq-reason")
    async with db.sessions() as session:
        rows = (
            await session.execute(
                select(
                    models.Recording.id,
                    models.Recording.state,
                    models.Recording.size_bytes,
                    models.Recording.starts_at,
                ).order_by(models.Recording.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("failed-before", "failed", None, earlier),
        ("kept", "scheduled", None, earlier),
        ("new", "completed", 5, earlier),
    ]
    # The batch that held the poison record failed, then its halves without it ran: each
    # applied batch read the recordings once and wrote them with one upsert.
    reads = [s for s in statements if s.lstrip().startswith("SELECT recording.")]
    upserts = [s for s in statements if s.lstrip().startswith("INSERT INTO recording")]
    assert reads and len(upserts) <= len(reads)
    assert not [s for s in statements if "FROM recording WHERE recording.customer_id = " in s]
