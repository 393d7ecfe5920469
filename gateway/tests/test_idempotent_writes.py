"""Every write route of the gateway, raced: eight concurrent requests with one Idempotency-Key
have one effect, and the others get the stored answer (`Idempotent-Replayed: true`) or 409 with
Retry-After, never a 500; the same key with another body is 422 naming the header.

The gateway runs in process in front of the four real service apps (their routes, runtime and
migrations on SQLite or PostgreSQL; no Kafka: what one service's outbox holds is handed to the
others' consumers by `relay`). The routes are enumerated from the app, like the route-by-role
test: a write route added later fails here until it has a recipe below (or is named in
`NOT_KEYED` with the reason it takes no key). The gateway's own writes (operators, API keys)
go through the same runtime mechanism on the gateway's database.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import SecretStr
from sqlalchemy import func, select

from gateway.app import build
from gateway.idempotent_writes import get_write_services
from gateway.models import ApiKey, Operator
from gateway.routes.prefix import API_PREFIX
from gateway.tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, Headers, make_settings, sign_in
from gateway.tests.services import SERVICE_TOKEN_SECRET, SERVICE_URLS
from services.activity.app import SPEC as ACTIVITY
from services.activity.tests import events as apps_events
from services.billing.app import SPEC as BILLING
from services.billing.demo_catalog import seed_if_empty
from services.contracts.apps import WatchlistAddedV1
from services.contracts.envelope import EventData
from services.customers.app import SPEC as CUSTOMERS
from services.runtime.db import Database
from services.runtime.idempotency import write_once
from services.runtime.service_app import ServiceSpec, create_app
from services.runtime.tests._helpers import (
    BACKENDS,
    RecordingProducer,
    consumer_record,
    event_bytes,
    migrated_database,
)
from services.tickets.app import SPEC as TICKETS

SPECS = (CUSTOMERS, BILLING, TICKETS, ACTIVITY)
WRITES = ("POST", "PUT", "PATCH", "DELETE")
RACERS = 8

# Sign-in and sign-out: a token exchange, not a write to repeat or replay (a stored answer
# would be a stored token); a retry simply signs in again, and a logout is idempotent itself.
# A dead-letter replay writes to Kafka, not to a database: it marks what it sent with a
# committed offset, so repeating it sends nothing twice.
NOT_KEYED = {
    ("POST", "/auth/token"),
    ("POST", "/auth/logout"),
    ("POST", "/dead-letters/{topic}/replay"),
}


class ServiceApps(httpx.AsyncBaseTransport):
    """The services' network: each base URL answered by its app in process."""

    def __init__(self, apps: dict[str, FastAPI]) -> None:
        self.by_host = {
            httpx.URL(SERVICE_URLS[name]).host: httpx.ASGITransport(app=app)
            for name, app in apps.items()
        }

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.by_host[request.url.host].handle_async_request(request)


@dataclass
class System:
    gateway: FastAPI
    client: httpx.AsyncClient
    admin: Headers
    apps: dict[str, FastAPI]
    relayed: dict[str, int] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def db(self, name: str) -> Database:
        database: Database = self.apps[name].state.runtime.db
        return database

    async def events(self) -> int:
        """Events in every service's outbox: what each write emits is its visible effect."""
        total = 0
        for name, app in self.apps.items():
            outbox = app.state.runtime.outbox.table
            async with self.db(name).sessions() as session:
                total += int(
                    (await session.execute(select(func.count()).select_from(outbox))).scalar_one()
                )
        return total

    async def gateway_rows(self, model: type[Any]) -> int:
        db: Database = self.gateway.state.db
        async with db.sessions() as session:
            return int(
                (await session.execute(select(func.count()).select_from(model))).scalar_one()
            )

    async def relay(self) -> None:
        """Hand every new outbox row to the services that consume its topic, until quiet."""
        moved = True
        while moved:
            moved = False
            for name, app in self.apps.items():
                outbox = app.state.runtime.outbox.table
                async with self.db(name).sessions() as session:
                    rows = (
                        await session.execute(
                            select(outbox)
                            .where(outbox.c.id > self.relayed.get(name, 0))
                            .order_by(outbox.c.id)
                        )
                    ).all()
                for row in rows:
                    self.relayed[name] = row.id
                    moved = True
                    await self.deliver(row.topic, row.payload.encode(), row.key)

    async def deliver(self, topic: str, value: bytes, key: str) -> None:
        for app in self.apps.values():
            consumer = app.state.runtime.consumer
            if topic in consumer.handlers:
                await consumer.process(topic, consumer_record(topic, value, key=key.encode()))

    async def app_event(self, data: EventData) -> None:
        await self.deliver("apps.events", event_bytes(data, source="/apps/test"), data_key(data))

    async def call(
        self, method: str, path: str, body: Any = None, key: str | None = None
    ) -> httpx.Response:
        headers = {**self.admin, **({"Idempotency-Key": key} if key else {})}
        return await self.client.request(method, API_PREFIX + path, json=body, headers=headers)

    async def made(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.call(method, path, body)
        assert response.is_success, response.text
        return response.json() if response.content else None


def data_key(data: EventData) -> str:
    customer_id: str = data.customer_id  # type: ignore[attr-defined]
    return customer_id


@pytest.fixture(params=BACKENDS)
async def system(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[System]:
    async with AsyncExitStack() as stack:
        apps: dict[str, FastAPI] = {}
        for spec in SPECS:
            db = await stack.enter_async_context(
                migrated_database(
                    request,
                    tmp_path,
                    name=f"race_{spec.name}",
                    migrations_dir=spec.migrations_dir,
                    metadata=spec.metadata,
                )
            )
            apps[spec.name] = service_app(spec, db)
            stack.push_async_callback(apps[spec.name].state.runtime.db.dispose)
        async with apps["billing"].state.runtime.db.transaction() as session:
            await seed_if_empty(session)
        # Room for eight racers on a shared 2-core machine (the default is 0.5 s).
        settings = make_settings(tmp_path, service_timeout_seconds=30)
        gateway = build(settings, transport=ServiceApps(apps))
        await stack.enter_async_context(gateway.router.lifespan_context(gateway))
        client = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=gateway), base_url="http://gateway.test"
            )
        )
        admin = await sign_in(client, ADMIN_USERNAME, ADMIN_PASSWORD)
        yield System(gateway, client, admin, apps)


def service_app(spec: ServiceSpec, db: Database) -> FastAPI:
    # The key the gateway of `make_settings` signs its calls with, so the services answer it.
    settings = spec.settings(
        database_url=db.url, port=0, service_token_secret=SecretStr(SERVICE_TOKEN_SECRET)
    )
    app = create_app(spec, settings)
    # Its lifespan (Kafka) is not entered; a dead letter would go to this recorder.
    app.state.runtime.consumer.producer = RecordingProducer().as_producer()
    return app


# --- what each route is sent ------------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    path: str
    body: Any = None
    # The same route with another body under the same key (None: the route takes no body).
    other: Any = None
    # Events one such write emits across the services (a second effect would add more).
    events: int = 0
    # For a write with no event: rows of this gateway table it adds.
    gateway_rows: type[Any] | None = None
    rows: int = 0


Recipe = Callable[[System], Awaitable[Write]]


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


SALE: dict[str, Any] = {
    "webshop_id": "shop-eu",
    "product_id": "basic",
    "plan_id": "basic-1m",
    "extra_product_ids": [],
    "info": {"first_name": "Race", "last_name": "Condition", "email": "race@example.com"},
    "credentials": None,
}


async def customer(s: System) -> str:
    """The customer the per-customer routes act on, sold and with its subscription open."""
    if "customer" not in s.ids:
        created = await s.made("POST", "/customers", SALE)
        s.ids["customer"] = created["id"]
        await s.relay()
    return s.ids["customer"]


async def c(s: System) -> str:
    return f"/customers/{await customer(s)}"


async def new_webshop(s: System) -> str:
    webshop_id = fresh("shop")
    await s.made("POST", "/webshops", {"id": webshop_id, "name": "W", "currencies": ["EUR"]})
    return webshop_id


def product_body(product_id: str, name: str = "P") -> dict[str, Any]:
    plan = {"id": f"{product_id}-1m", "name": "1 month", "length": 1, "unit": "months"}
    return {
        "id": product_id,
        "name": name,
        "kind": "extra",
        "max_devices": 0,
        "packages": ["x"],
        "plans": [{**plan, "prices": {"EUR": "1.00"}}],
    }


async def new_product(s: System) -> str:
    product_id = fresh("prod")
    await s.made("POST", "/products", product_body(product_id))
    return product_id


async def profile(s: System) -> str:
    made = await s.made("POST", f"{await c(s)}/profiles", {"name": fresh("Kid")[:20]})
    return str(made["id"])


async def ticket(s: System) -> str:
    made = await s.made("POST", f"{await c(s)}/tickets", {"subject": "Raced"})
    return str(made["id"])


async def device(s: System) -> str:
    device_id = fresh("stb")
    await s.app_event(apps_events.connected(device_id, customer_id=await customer(s)))
    return device_id


async def main_profile(s: System) -> str:
    """The customer's first profile: activity holds an app's report for a profile it was not
    told of, so the apps' reports below name one the customers service announced."""
    if "profile" not in s.ids:
        await s.relay()
        profiles = await s.made("GET", f"{await c(s)}/profiles")
        s.ids["profile"] = str(profiles["items"][0]["id"])
    return s.ids["profile"]


async def saved(s: System, kind: str) -> str:
    customer_id = await customer(s)
    profile_id = await main_profile(s)
    item_id = fresh("ch")
    if kind == "favorites":
        favorite = apps_events.favorite(item_id).model_copy(
            update={"customer_id": customer_id, "profile_id": profile_id}
        )
        await s.app_event(favorite)
    else:
        added = WatchlistAddedV1(
            customer_id=customer_id,
            profile_id=profile_id,
            item_type="movie",
            item_id=item_id,
            title="Film",
            at=apps_events.now(),
        )
        await s.app_event(added)
    items = await s.made("GET", f"{await c(s)}/{kind}")
    return str(next(i["id"] for i in items["items"] if i["item_id"] == item_id))


async def recording(s: System) -> str:
    recording_id = fresh("rec")
    scheduled = apps_events.scheduled(recording_id)
    update = {"customer_id": await customer(s), "profile_id": await main_profile(s)}
    await s.app_event(scheduled.model_copy(update=update))
    return recording_id


async def _create_customer(s: System) -> Write:
    other = {**SALE, "info": {**SALE["info"], "first_name": "Other"}}
    return Write("/customers", SALE, other, events=2)


async def _batch(s: System) -> Write:
    job = {
        **{k: SALE[k] for k in ("webshop_id", "product_id", "plan_id")},
        "count": 1,
        "first_name": "Hotel",
        "last_name_prefix": "Room ",
    }
    return Write("/customer-batches", job, {**job, "count": 2})


async def _edit_customer(s: System) -> Write:
    return Write(await c(s), {"info": {"city": "Brno"}}, {"info": {"city": "Praha"}}, events=1)


async def _account(s: System) -> Write:
    return Write(f"{await c(s)}/account", {"disabled": True}, {"disabled": False}, events=1)


async def _password(s: System) -> Write:
    return Write(f"{await c(s)}/account/password")


async def _profile_create(s: System) -> Write:
    return Write(f"{await c(s)}/profiles", {"name": "Raced"}, {"name": "Other"}, events=1)


async def _profile_edit(s: System) -> Write:
    path = f"{await c(s)}/profiles/{await profile(s)}"
    return Write(path, {"name": "Renamed"}, {"name": "Again"})


async def _profile_delete(s: System) -> Write:
    # profile.deleted on customers.events and the command telling the apps.
    return Write(f"{await c(s)}/profiles/{await profile(s)}", events=2)


def action(suffix: str, body: Any, other: Any, events: int = 2) -> Recipe:
    async def recipe(s: System) -> Write:
        return Write(f"{await c(s)}/subscription{suffix}", body, other, events=events)

    return recipe


RENEW = {"product_id": "basic", "plan_id": "basic-1m", "extra_product_ids": []}
EXPIRY = {"expires_at": "2031-01-01T00:00:00Z", "reason": "goodwill"}


async def _remove_extra(s: System) -> Write:
    await s.made(
        "POST", f"{await c(s)}/subscription/extras", {"product_id": "hbo", "plan_id": "hbo-1m"}
    )
    return Write(f"{await c(s)}/subscription/extras/hbo", events=2)


async def _ticket_open(s: System) -> Write:
    return Write(f"{await c(s)}/tickets", {"subject": "Raced"}, {"subject": "Other"})


async def _ticket_edit(s: System) -> Write:
    path = f"{await c(s)}/tickets/{await ticket(s)}"
    return Write(path, {"priority": "high"}, {"priority": "low"})


async def _ticket_message(s: System) -> Write:
    path = f"{await c(s)}/tickets/{await ticket(s)}/messages"
    return Write(path, {"body": "Hello"}, {"body": "Bye"}, events=2)


async def _message(s: System) -> Write:
    return Write(
        f"{await c(s)}/messages", {"title": "T", "body": "B"}, {"title": "T", "body": "C"}, events=2
    )


async def _unbind(s: System) -> Write:
    return Write(f"{await c(s)}/devices/{await device(s)}", events=2)


async def _favorite(s: System) -> Write:
    # The command telling the apps (favorite.remove.v1).
    return Write(f"{await c(s)}/favorites/{await saved(s, 'favorites')}", events=1)


async def _watchlist(s: System) -> Write:
    return Write(f"{await c(s)}/watchlist/{await saved(s, 'watchlist')}", events=1)


async def _recording(s: System) -> Write:
    return Write(f"{await c(s)}/recordings/{await recording(s)}", events=1)


async def _webshop_create(s: System) -> Write:
    body = {"id": fresh("shop"), "name": "W", "currencies": ["EUR"]}
    return Write("/webshops", body, {**body, "name": "Other"})


async def _webshop_edit(s: System) -> Write:
    return Write(f"/webshops/{await new_webshop(s)}", {"name": "New"}, {"name": "Other"})


async def _webshop_archive(s: System) -> Write:
    return Write(f"/webshops/{await new_webshop(s)}")


async def _product_create(s: System) -> Write:
    product_id = fresh("prod")
    return Write("/products", product_body(product_id), product_body(product_id, "Other"))


async def _product_edit(s: System) -> Write:
    return Write(f"/products/{await new_product(s)}", {"name": "New"}, {"name": "Other"})


async def _product_archive(s: System) -> Write:
    return Write(f"/products/{await new_product(s)}")


async def _plan_add(s: System) -> Write:
    plan = {"id": fresh("plan"), "name": "Year", "length": 1, "unit": "years"}
    body = {**plan, "prices": {"EUR": "10.00"}}
    return Write(f"/products/{await new_product(s)}/plans", body, {**body, "name": "Other"})


async def _plan_edit(s: System) -> Write:
    product_id = await new_product(s)
    path = f"/products/{product_id}/plans/{product_id}-1m"
    return Write(path, {"name": "New"}, {"name": "Other"})


async def _plan_archive(s: System) -> Write:
    product_id = await new_product(s)
    await s.made(
        "POST",
        f"/products/{product_id}/plans",
        {
            "id": f"{product_id}-2",
            "name": "2",
            "length": 2,
            "unit": "months",
            "prices": {"EUR": "2.00"},
        },
    )
    return Write(f"/products/{product_id}/plans/{product_id}-2")


async def _operator_create(s: System) -> Write:
    body = {"username": fresh("op"), "password": "a-long-password-1", "role": "support"}
    return Write("/operators", body, {**body, "role": "viewer"}, gateway_rows=Operator, rows=1)


async def _operator_edit(s: System) -> Write:
    made = await s.made(
        "POST",
        "/operators",
        {"username": fresh("op"), "password": "a-long-password-1", "role": "support"},
    )
    return Write(f"/operators/{made['id']}", {"role": "viewer"}, {"role": "operator"})


async def _api_key_create(s: System) -> Write:
    body = {"name": fresh("dash"), "role": "viewer"}
    return Write("/api-keys", body, {**body, "role": "support"}, gateway_rows=ApiKey, rows=1)


async def _api_key_revoke(s: System) -> Write:
    made = await s.made("POST", "/api-keys", {"name": fresh("dash"), "role": "viewer"})
    return Write(f"/api-keys/{made['id']}")


async def _erase(s: System) -> Write:
    return Write(await c(s), events=1)


# In this order: the erasure last, since it ends the customer.
async def _sell(s: System) -> Write:
    """A customer of its own whose subscription was cancelled: nothing runs, so it may be sold."""
    created = await s.made(
        "POST", "/customers", {**SALE, "info": {**SALE["info"], "last_name": "Sold"}}
    )
    await s.relay()
    path = f"/customers/{created['id']}/subscription"
    await s.made("POST", f"{path}/cancel", {"when": "now"})
    await s.relay()
    return Write(path, RENEW, {**RENEW, "plan_id": "basic-12m"}, events=2)


RECIPES: dict[tuple[str, str], Recipe] = {
    ("POST", "/customers/{customer_id}/subscription"): _sell,
    ("POST", "/customers"): _create_customer,
    ("POST", "/customer-batches"): _batch,
    ("PATCH", "/customers/{customer_id}"): _edit_customer,
    ("POST", "/customers/{customer_id}/profiles"): _profile_create,
    ("PATCH", "/customers/{customer_id}/profiles/{profile_id}"): _profile_edit,
    ("DELETE", "/customers/{customer_id}/profiles/{profile_id}"): _profile_delete,
    ("POST", "/customers/{customer_id}/subscription/renew"): action(
        "/renew", RENEW, {**RENEW, "plan_id": "basic-12m"}
    ),
    ("POST", "/customers/{customer_id}/subscription/change"): action(
        "/change",
        {
            "product_id": "premium",
            "plan_id": "premium-1m",
            "extra_product_ids": [],
            "starts": "at_expiry",
        },
        {
            "product_id": "premium",
            "plan_id": "premium-1m",
            "extra_product_ids": [],
            "starts": "now",
        },
    ),
    ("PUT", "/customers/{customer_id}/subscription/expiry"): action(
        "/expiry", EXPIRY, {**EXPIRY, "reason": "other"}
    ),
    ("POST", "/customers/{customer_id}/subscription/extras"): action(
        "/extras",
        {"product_id": "sports-plus", "plan_id": "sports-plus-1m"},
        {"product_id": "sports-plus", "plan_id": "other"},
    ),
    ("DELETE", "/customers/{customer_id}/subscription/extras/{product_id}"): _remove_extra,
    ("POST", "/customers/{customer_id}/subscription/cancel"): action(
        "/cancel", {"when": "at_period_end"}, {"when": "now"}
    ),
    ("POST", "/customers/{customer_id}/tickets"): _ticket_open,
    ("PATCH", "/customers/{customer_id}/tickets/{ticket_id}"): _ticket_edit,
    ("POST", "/customers/{customer_id}/tickets/{ticket_id}/messages"): _ticket_message,
    ("POST", "/customers/{customer_id}/messages"): _message,
    ("DELETE", "/customers/{customer_id}/devices/{device_id}"): _unbind,
    ("DELETE", "/customers/{customer_id}/favorites/{item_id}"): _favorite,
    ("DELETE", "/customers/{customer_id}/watchlist/{item_id}"): _watchlist,
    ("DELETE", "/customers/{customer_id}/recordings/{recording_id}"): _recording,
    ("POST", "/webshops"): _webshop_create,
    ("PATCH", "/webshops/{webshop_id}"): _webshop_edit,
    ("DELETE", "/webshops/{webshop_id}"): _webshop_archive,
    ("POST", "/products"): _product_create,
    ("PATCH", "/products/{product_id}"): _product_edit,
    ("DELETE", "/products/{product_id}"): _product_archive,
    ("POST", "/products/{product_id}/plans"): _plan_add,
    ("PATCH", "/products/{product_id}/plans/{plan_id}"): _plan_edit,
    ("DELETE", "/products/{product_id}/plans/{plan_id}"): _plan_archive,
    ("POST", "/operators"): _operator_create,
    ("PATCH", "/operators/{operator_id}"): _operator_edit,
    ("POST", "/api-keys"): _api_key_create,
    ("DELETE", "/api-keys/{key_id}"): _api_key_revoke,
    # The account disabled: devices would be refused after it.
    ("PATCH", "/customers/{customer_id}/account"): _account,
    ("POST", "/customers/{customer_id}/account/password"): _password,
    ("DELETE", "/customers/{customer_id}"): _erase,
}


def write_routes(app: FastAPI) -> list[tuple[str, str, bool]]:
    """(method, path under the API prefix, whether it takes the key) of every write."""
    found = []
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if not (isinstance(route.original_route, APIRoute) and path.startswith(API_PREFIX)):
            continue
        calls = {d.call for d in route.dependant.dependencies}
        for method in sorted(set(route.methods or ()) & set(WRITES)):
            keyed = bool(calls & {get_write_services, write_once})
            found.append((method, path[len(API_PREFIX) :], keyed))
    return found


async def race(s: System, method: str, write: Write, key: str) -> list[httpx.Response]:
    return list(
        await asyncio.gather(*(s.call(method, write.path, write.body, key) for _ in range(RACERS)))
    )


async def test_every_write_route_has_one_effect_per_key(system: System) -> None:
    routes = write_routes(system.gateway)
    for method, path, keyed in routes:
        if (method, path) in NOT_KEYED:
            continue
        assert keyed, f"{method} {path} takes neither WriteServicesDep nor WriteOnceDep"
        assert (method, path) in RECIPES, f"{method} {path} has no recipe in this test"
    raced = [r for r in RECIPES if (r[0], r[1], True) in set(routes)]
    assert len(raced) == len(RECIPES), set(RECIPES) - set(raced)

    mismatched: list[str] = []
    for method, path in RECIPES:
        write = await RECIPES[method, path](system)
        await system.relay()
        before = await system.events()
        rows_before = await system.gateway_rows(write.gateway_rows) if write.gateway_rows else 0
        key = fresh("race")

        answers = await race(system, method, write, key)

        what = f"{method} {path}"
        statuses = sorted(a.status_code for a in answers)
        assert all(a.status_code < 500 for a in answers), f"{what}: {statuses} {answers[0].text}"
        done = [a for a in answers if a.is_success]
        firsts = [a for a in done if "Idempotent-Replayed" not in a.headers]
        assert len(firsts) == 1, f"{what}: {statuses}, {[a.text for a in answers]}"
        for replay in done:
            assert replay.status_code == firsts[0].status_code, what
            if "Idempotent-Replayed" in replay.headers:
                assert replay.headers["Idempotent-Replayed"] == "true"
        for busy in (a for a in answers if not a.is_success):
            assert busy.status_code == 409, f"{what}: {busy.status_code} {busy.text}"
            assert int(busy.headers["Retry-After"]) >= 1, what
        emitted = await system.events() - before
        if emitted != write.events:
            mismatched.append(f"{what}: {emitted} events, not {write.events}")
            before += emitted - write.events

        if write.gateway_rows:
            added = await system.gateway_rows(write.gateway_rows) - rows_before
            assert added == write.rows, f"{what}: {added} rows"

        again = await system.call(method, write.path, write.body, key)
        assert again.headers.get("Idempotent-Replayed") == "true", f"{what}: {again.text}"
        if write.other is not None:
            reused = await system.call(method, write.path, write.other, key)
            assert reused.status_code == 422, f"{what}: {reused.status_code} {reused.text}"
            assert reused.json()["errors"][0]["field"] == "Idempotency-Key", what
        assert await system.events() - before == write.events, what
    assert not mismatched, mismatched
