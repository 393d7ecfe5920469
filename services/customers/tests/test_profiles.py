"""Profiles: a default one with every customer, create/rename/delete with their events, the
per-account limit, PINs stored only as argon2 hashes."""

import pytest
from pydantic import ValidationError

from services.contracts.customers import CustomerInfo
from services.customers import credentials, models, service
from services.customers.profiles import service as profiles
from services.customers.profiles.models import Profile
from services.customers.schemas import CustomerCreate
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.problems import Problem
from services.runtime.tests._helpers import of_type, outbox_rows


async def new_customer(db: Database, outbox: Outbox) -> str:
    payload = CustomerCreate(
        webshop_id="shop-eu",
        product_id="basic",
        plan_id="basic-1m",
        info=CustomerInfo(first_name="Kim", last_name="Park"),
    )
    async with db.transaction() as session:
        created = await service.create_customer(session, outbox, payload)
    return created.id


async def create(
    db: Database, outbox: Outbox, customer_id: str, **fields: object
) -> profiles.ProfilePublic:
    body = profiles.ProfileCreate.model_validate({"name": "Kids", **fields})
    async with db.transaction() as session:
        return await profiles.create_profile(session, outbox, customer_id, body)


async def listed(db: Database, customer_id: str) -> list[profiles.ProfilePublic]:
    async with db.sessions() as session:
        return (await profiles.list_profiles(session, customer_id)).items


async def test_every_new_customer_has_a_default_profile_announced_after_the_customer(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await new_customer(db, outbox)

    [default] = await listed(db, customer_id)
    assert (default.name, default.is_default, default.kids, default.has_pin) == (
        "Main",
        True,
        False,
        False,
    )
    rows = await outbox_rows(db, models.outbox)
    assert [r.type for r in rows] == ["customer.created.v1", "profile.created.v1"]
    assert rows[1].key == customer_id
    assert rows[1].data["profile_id"] == default.id


async def test_a_profile_with_a_pin_keeps_only_its_argon2_hash(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await new_customer(db, outbox)

    created = await create(db, outbox, customer_id, kids=True, pin="4321", avatar="owl")

    assert created.has_pin and created.kids and created.avatar == "owl"
    async with db.sessions() as session:
        row = await session.get(Profile, created.id)
    assert row is not None and row.pin_hash is not None
    assert "4321" not in row.pin_hash and row.pin_hash.startswith("$argon2id$")
    assert credentials.verify_password(row.pin_hash, "4321")
    [event] = of_type(await outbox_rows(db, models.outbox), "profile.created.v1")[1:]
    assert event.data["kids"] is True and "pin" not in event.data


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"pin": "123"}, "pin"),
        ({"pin": "12a4"}, "pin"),
        ({"pin": "123456789"}, "pin"),
        ({"avatar": "https://x.example/a.png"}, "avatar"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_pins_avatars_and_names_are_refused_naming_the_field(
    fields: dict[str, str], field: str
) -> None:
    with pytest.raises(ValidationError) as error:
        profiles.ProfileCreate.model_validate({"name": "Kids", **fields})
    assert error.value.errors()[0]["loc"] == (field,)


async def test_names_are_unique_per_account_case_insensitively(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await new_customer(db, outbox)

    with pytest.raises(Problem) as problem:
        await create(db, outbox, customer_id, name="MAIN")

    assert problem.value.status == 409
    assert problem.value.extra["errors"][0]["field"] == "name"


async def test_an_account_has_at_most_ten_profiles(db: Database, outbox: Outbox) -> None:
    customer_id = await new_customer(db, outbox)
    for n in range(profiles.MAX_PROFILES - 1):
        await create(db, outbox, customer_id, name=f"P{n}")

    with pytest.raises(Problem) as problem:
        await create(db, outbox, customer_id, name="one too many")

    assert problem.value.status == 409
    assert len(await listed(db, customer_id)) == profiles.MAX_PROFILES


async def test_update_renames_sets_and_clears_the_pin(db: Database, outbox: Outbox) -> None:
    customer_id = await new_customer(db, outbox)
    created = await create(db, outbox, customer_id)

    async def update(**fields: object) -> profiles.ProfilePublic:
        body = profiles.ProfileUpdate.model_validate(fields)
        async with db.transaction() as session:
            return await profiles.update_profile(session, customer_id, created.id, body)

    renamed = await update(name="Teens", kids=False, pin="98765")
    assert (renamed.name, renamed.kids, renamed.has_pin) == ("Teens", False, True)
    untouched_pin = await update(avatar="fox")
    assert untouched_pin.has_pin and untouched_pin.avatar == "fox"
    cleared = await update(pin=None)
    assert not cleared.has_pin
    with pytest.raises(Problem) as taken:
        await update(name="main")
    assert taken.value.status == 409


async def test_delete_emits_profile_deleted_and_a_second_delete_is_404(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await new_customer(db, outbox)
    created = await create(db, outbox, customer_id)

    async def delete() -> None:
        async with db.transaction() as session:
            await profiles.delete_profile(session, outbox, customer_id, created.id)

    await delete()
    with pytest.raises(Problem) as again:
        await delete()

    assert again.value.status == 404
    assert [p.name for p in await listed(db, customer_id)] == ["Main"]
    [event] = of_type(await outbox_rows(db, models.outbox), "profile.deleted.v1")
    assert (event.key, event.data["profile_id"]) == (customer_id, created.id)


async def test_the_last_profile_cannot_be_deleted(db: Database, outbox: Outbox) -> None:
    customer_id = await new_customer(db, outbox)
    [default] = await listed(db, customer_id)

    with pytest.raises(Problem) as problem:
        async with db.transaction() as session:
            await profiles.delete_profile(session, outbox, customer_id, default.id)

    assert problem.value.status == 409


async def test_profiles_of_an_unknown_customer_or_of_another_are_404(
    db: Database, outbox: Outbox
) -> None:
    customer_id = await new_customer(db, outbox)
    other_id = await new_customer(db, outbox)
    [others] = await listed(db, other_id)

    with pytest.raises(Problem) as unknown:
        await listed(db, "no-such-customer")
    with pytest.raises(Problem) as foreign:
        async with db.transaction() as session:
            await profiles.delete_profile(session, outbox, customer_id, others.id)

    assert (unknown.value.status, foreign.value.status) == (404, 404)
