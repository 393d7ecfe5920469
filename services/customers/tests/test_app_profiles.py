"""The apps' profile changes on apps.events, through the customers service's consumer as it is
wired: the operator's rules apply, a refused change is dead-lettered with the rule it broke,
and only what was accepted is announced on customers.events."""

import uuid
from datetime import UTC, datetime
from typing import Any, cast

from services.contracts import topics
from services.contracts.apps import AppProfileCreatedV1, AppProfileDeletedV1, AppProfileUpdatedV1
from services.contracts.envelope import EventData
from services.customers import models
from services.customers.app import SPEC
from services.customers.profiles import service as profiles
from services.customers.profiles.models import Profile
from services.customers.tests.test_profiles import create, listed, new_customer
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.service_app import Runtime
from services.runtime.tests._helpers import (
    RecordingProducer,
    consumer_record,
    envelope_bytes,
    event_bytes,
    of_type,
    outbox_rows,
    service_runtime,
)

AT = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)


def pid() -> str:
    return str(uuid.uuid4())


async def report(rt: Runtime, data: EventData) -> str:
    record = consumer_record(topics.APPS_EVENTS, event_bytes(data, source="/apps/tv"))
    return await rt.consumer.process(topics.APPS_EVENTS, record)


def dead_letters(rt: Runtime) -> list[str]:
    sent = cast(RecordingProducer, rt.consumer.producer).sent
    return [s.header("x-dlq-reason") for s in sent if s.topic == topics.dlq(topics.APPS_EVENTS)]


async def test_an_app_creates_renames_and_deletes_a_profile_the_operator_sees(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await new_customer(db, outbox)
    profile_id = pid()
    async with service_runtime(SPEC, db) as rt:
        created = AppProfileCreatedV1(
            customer_id=customer_id, profile_id=profile_id, name="Léa", pin="2468", at=AT
        )
        assert await report(rt, created) == "handled"
        assert [(p.id, p.name, p.has_pin) for p in await listed(db, customer_id)][1:] == [
            (profile_id, "Léa", True)
        ]

        renamed = AppProfileUpdatedV1.model_validate(
            {"customer_id": customer_id, "profile_id": profile_id, "name": "Lea B", "at": AT}
        )
        assert await report(rt, renamed) == "handled"
        [_, after] = await listed(db, customer_id)
        assert (after.name, after.has_pin) == ("Lea B", True)  # the PIN was not sent: kept
        unpinned = AppProfileUpdatedV1(
            customer_id=customer_id, profile_id=profile_id, remove_pin=True, at=AT
        )
        assert await report(rt, unpinned) == "handled"
        [_, after] = await listed(db, customer_id)
        assert (after.name, after.has_pin) == ("Lea B", False)

        deleted = AppProfileDeletedV1(customer_id=customer_id, profile_id=profile_id, at=AT)
        assert await report(rt, deleted) == "handled"
        assert [p.name for p in await listed(db, customer_id)] == ["Main"]
        assert dead_letters(rt) == []

    rows = await outbox_rows(db, models.outbox)
    [announced] = [r for r in of_type(rows, "profile.created.v1") if r.data["name"] == "Léa"]
    assert (announced.topic, announced.data["profile_id"]) == (
        topics.CUSTOMERS_EVENTS,
        profile_id,
    )
    assert "pin" not in announced.data
    [gone] = of_type(rows, "profile.deleted.v1")
    assert (gone.topic, gone.data["profile_id"]) == (topics.CUSTOMERS_EVENTS, profile_id)
    # The app deleted it itself: no command goes back to the apps.
    assert [r for r in rows if r.topic == topics.APPS_COMMANDS] == []


async def test_a_resent_create_changes_nothing(db: Database, outbox: Outbox) -> None:
    customer_id = await new_customer(db, outbox)
    created = AppProfileCreatedV1(customer_id=customer_id, profile_id=pid(), name="Kids", at=AT)
    async with service_runtime(SPEC, db) as rt:
        assert await report(rt, created) == "handled"
        assert await report(rt, created) == "handled"  # a new event id, the same profile
        assert dead_letters(rt) == []
    assert len(await listed(db, customer_id)) == 2
    assert len(of_type(await outbox_rows(db, models.outbox), "profile.created.v1")) == 2


async def test_the_eleventh_profile_and_a_name_taken_ignoring_case_and_accents_are_dead_lettered(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await new_customer(db, outbox)
    await create(db, outbox, customer_id, name="Zoë")
    async with service_runtime(SPEC, db) as rt:
        taken = AppProfileCreatedV1(customer_id=customer_id, profile_id=pid(), name="ZOE", at=AT)
        assert await report(rt, taken) == "dead_lettered"
        for n in range(profiles.MAX_PROFILES - 2):
            await create(db, outbox, customer_id, name=f"P{n}")
        eleventh = AppProfileCreatedV1(
            customer_id=customer_id, profile_id=pid(), name="Eleven", at=AT
        )
        assert await report(rt, eleventh) == "dead_lettered"
        name_reason, limit_reason = dead_letters(rt)

    assert "Profile name taken" in name_reason and "name: already used" in name_reason
    assert "Too many profiles" in limit_reason and "at most 10" in limit_reason
    names = [p.name for p in await listed(db, customer_id)]
    assert len(names) == profiles.MAX_PROFILES and "Eleven" not in names and "ZOE" not in names
    async with db.sessions() as session:
        assert await session.get(Profile, eleventh.profile_id) is None


async def test_a_rename_onto_a_taken_name_is_dead_lettered_and_changes_nothing(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await new_customer(db, outbox)
    kids = await create(db, outbox, customer_id, name="Kids")
    async with service_runtime(SPEC, db) as rt:
        rename = AppProfileUpdatedV1(
            customer_id=customer_id, profile_id=kids.id, name="main", at=AT
        )
        assert await report(rt, rename) == "dead_lettered"
        [reason] = dead_letters(rt)
    assert "profile.updated.v1 refused: Profile name taken" in reason
    assert [p.name for p in await listed(db, customer_id)] == ["Main", "Kids"]


async def test_unknown_profiles_customers_and_the_last_profile_are_dead_lettered_with_the_reason(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await new_customer(db, outbox)
    [main] = await listed(db, customer_id)
    missing = pid()
    async with service_runtime(SPEC, db) as rt:
        events: list[EventData] = [
            AppProfileUpdatedV1(customer_id=customer_id, profile_id=missing, kids=True, at=AT),
            AppProfileDeletedV1(customer_id=customer_id, profile_id=missing, at=AT),
            AppProfileCreatedV1(customer_id="no-such-customer", profile_id=pid(), name="X", at=AT),
            AppProfileDeletedV1(customer_id=customer_id, profile_id=main.id, at=AT),
        ]
        for event in events:
            assert await report(rt, event) == "dead_lettered"
        updated, deleted, stranger, last = dead_letters(rt)

    assert f"no profile {missing}" in updated and f"no profile {missing}" in deleted
    assert "Customer not found" in stranger
    assert "Last profile" in last
    assert [p.name for p in await listed(db, customer_id)] == ["Main"]


async def test_a_profile_id_of_another_customer_is_dead_lettered(
    db: Database, outbox: Outbox
) -> None:
    first = await new_customer(db, outbox)
    second = await new_customer(db, outbox)
    shared = pid()
    async with service_runtime(SPEC, db) as rt:
        mine = AppProfileCreatedV1(customer_id=first, profile_id=shared, name="Kids", at=AT)
        theirs = AppProfileCreatedV1(customer_id=second, profile_id=shared, name="Kids", at=AT)
        assert await report(rt, mine) == "handled"
        assert await report(rt, theirs) == "dead_lettered"
        [reason] = dead_letters(rt)
    assert "belongs to another customer" in reason
    assert len(await listed(db, second)) == 1


async def test_a_pin_or_a_profile_id_that_breaks_the_schema_is_dead_lettered(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await new_customer(db, outbox)
    base: dict[str, Any] = {"customer_id": customer_id, "name": "Kids", "at": AT.isoformat()}
    async with service_runtime(SPEC, db) as rt:
        for n, data in enumerate(
            [{**base, "profile_id": pid(), "pin": "12"}, {**base, "profile_id": "not-a-uuid"}]
        ):
            value = envelope_bytes("profile.created.v1", data, event_id=f"bad-{n}")
            record = consumer_record(topics.APPS_EVENTS, value)
            assert await rt.consumer.process(topics.APPS_EVENTS, record) == "dead_lettered"
        pin_reason, id_reason = dead_letters(rt)
    assert "pin" in pin_reason and "profile_id" in id_reason
    assert len(await listed(db, customer_id)) == 1


async def test_the_operators_deletion_is_sent_to_the_apps(db: Database, outbox: Outbox) -> None:
    customer_id = await new_customer(db, outbox)
    kids = await create(db, outbox, customer_id, name="Kids")

    async with db.transaction() as session:
        await profiles.delete_profile(session, outbox, customer_id, kids.id)

    [command] = [r for r in await outbox_rows(db, models.outbox) if r.topic == topics.APPS_COMMANDS]
    assert (command.type, command.key) == ("profile.delete.v1", customer_id)
    assert command.data == {"customer_id": customer_id, "profile_id": kids.id}
