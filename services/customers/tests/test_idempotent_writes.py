"""The customers service's writes through the runtime's Idempotency-Key handling: a retry is the
first answer (a generated password not shown again), never a second effect, and never undoes a
later write; erasure takes the stored answers about the customer with it."""

import httpx
from sqlalchemy import func, select

from services.customers import models
from services.customers.bulk.models import CustomerBatch
from services.customers.profiles.models import Profile
from services.runtime.db import Database

SALE = {
    "webshop_id": "shop-eu",
    "product_id": "basic",
    "plan_id": "basic-1m",
    "info": {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"},
}
REPLAYED = "Idempotent-Replayed"


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


async def count(db: Database, table: object) -> int:
    async with db.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


async def test_a_retried_sale_is_the_first_customer_without_the_password(
    api: httpx.AsyncClient, db: Database
) -> None:
    first = await api.post("/customers", json=SALE, headers=key("sale-1"))
    again = await api.post("/customers", json=SALE, headers=key("sale-1"))
    other = await api.post("/customers", json=SALE, headers=key("sale-2"))

    assert first.status_code == again.status_code == other.status_code == 201
    assert first.json()["password"] and again.json()["password"] is None
    assert again.json()["id"] == first.json()["id"] != other.json()["id"]
    assert again.headers[REPLAYED] == "true"
    assert await count(db, models.Customer) == 2


async def test_a_retried_edit_does_not_undo_a_later_one(
    api: httpx.AsyncClient, db: Database
) -> None:
    customer_id = (await api.post("/customers", json=SALE)).json()["id"]
    path = f"/customers/{customer_id}"

    async def edit(city: str, k: str) -> httpx.Response:
        return await api.patch(path, json={"info": {"city": city}}, headers=key(k))

    await edit("Brno", "e-1")
    await edit("Praha", "e-2")
    retried = await edit("Brno", "e-1")

    assert retried.headers[REPLAYED] == "true"
    assert (await api.get(path)).json()["info"]["city"] == "Praha"


async def test_a_retried_account_change_and_password_reset_happen_once(
    api: httpx.AsyncClient,
) -> None:
    customer_id = (await api.post("/customers", json=SALE)).json()["id"]
    account = f"/customers/{customer_id}/account"

    await api.patch(account, json={"disabled": True}, headers=key("a-1"))
    await api.patch(account, json={"disabled": False}, headers=key("a-2"))
    retried = await api.patch(account, json={"disabled": True}, headers=key("a-1"))
    assert retried.headers[REPLAYED] == "true"
    assert (await api.get(account)).json()["disabled"] is False

    reset = await api.post(f"{account}/password", headers=key("r-1"))
    repeated = await api.post(f"{account}/password", headers=key("r-1"))
    assert reset.json()["password"] and repeated.json()["password"] is None
    assert repeated.json()["password_reset_at"] == reset.json()["password_reset_at"]


async def test_a_retried_profile_or_job_is_the_first_one(
    api: httpx.AsyncClient, db: Database
) -> None:
    customer_id = (await api.post("/customers", json=SALE)).json()["id"]
    profile = {"name": "Kids", "kids": True}
    path = f"/customers/{customer_id}/profiles"
    first = await api.post(path, json=profile, headers=key("p-1"))
    again = await api.post(path, json=profile, headers=key("p-1"))
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert await count(db, Profile) == 2  # the default and Kids

    job = {**{k: SALE[k] for k in ("webshop_id", "product_id", "plan_id")}, "count": 2}
    job |= {"first_name": "Hotel", "last_name_prefix": "Room "}
    queued = await api.post("/customer-batches", json=job, headers=key("b-1"))
    requeued = await api.post("/customer-batches", json=job, headers=key("b-1"))
    assert queued.status_code == requeued.status_code == 202
    assert requeued.json()["id"] == queued.json()["id"]
    assert await count(db, CustomerBatch) == 1


async def test_erasure_deletes_the_stored_answers_about_the_customer(
    api: httpx.AsyncClient, db: Database
) -> None:
    created = await api.post("/customers", json=SALE, headers=key("sale-1"))
    customer_id = created.json()["id"]
    await api.patch(f"/customers/{customer_id}", json={"info": {"city": "Brno"}}, headers=key("e"))
    assert await count(db, models.idempotency_record) == 2

    erased = await api.delete(f"/customers/{customer_id}", headers=key("erase-1"))

    assert erased.status_code == 204
    async with db.sessions() as session:
        left = (await session.execute(select(models.idempotency_record.c.body))).scalars().all()
    assert left == [None]  # only the erasure's own answer, which has no body
    again = await api.delete(f"/customers/{customer_id}", headers=key("erase-1"))
    assert again.status_code == 204 and again.headers[REPLAYED] == "true"
