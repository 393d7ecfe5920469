"""The app simulator: a bounded, reproducible stream of valid app events that the activity
service takes without a dead letter."""

import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx

from deploy.simulator.__main__ import customers_from_gateway, parse_args
from deploy.simulator.apps import AppSimulator, SimulatedCustomer, default_profiles
from services.activity import models
from services.activity.app import SPEC
from services.activity.customer_events import follow_subscription
from services.contracts import topics
from services.contracts.billing import SubscriptionActivatedV1
from services.contracts.envelope import CloudEvent
from services.contracts.registry import EVENT_MODELS
from services.runtime.db import Database
from services.runtime.tests._helpers import (
    consumer_record,
    of_type,
    outbox_rows,
    service_database_fixture,
    service_runtime,
)

db = service_database_fixture(SPEC)

CUSTOMERS = [
    "c0ffee00-0000-4000-8000-0000000000a1",
    "c0ffee00-0000-4000-8000-0000000000a2",
    "c0ffee00-0000-4000-8000-0000000000a3",
]


def simulator(seed: int = 7, *, messages: bool = False) -> AppSimulator:
    return AppSimulator(
        [
            SimulatedCustomer(
                c, default_profiles(c), message_ids=[f"msg-{c[-2:]}-{n}" for n in range(3)]
            )
            if messages
            else SimulatedCustomer(c, default_profiles(c))
            for c in CUSTOMERS
        ],
        seed=seed,
    )


def test_the_stream_is_bounded_valid_and_reproducible() -> None:
    first = list(simulator(messages=True).envelopes(400))
    again = list(simulator(messages=True).envelopes(400))
    other = list(simulator(seed=8, messages=True).envelopes(400))

    assert len(first) == 400
    assert [(k, e.id, e.type) for k, e in first] == [(k, e.id, e.type) for k, e in again]
    assert [e.id for _, e in first] != [e.id for _, e in other]
    for key, envelope in first:
        parsed = CloudEvent.model_validate_json(envelope.to_bytes())
        data = EVENT_MODELS[parsed.type].model_validate(parsed.data)
        assert getattr(data, "customer_id") == key == parsed.subject  # noqa: B009
    kinds = Counter(e.type for _, e in first)
    assert {
        "device.connected.v1",
        "device.heartbeat.v1",
        "device.disconnected.v1",
        "favorite.added.v1",
        "watchlist.added.v1",
        "recording.scheduled.v1",
        "message.read.v1",
    } <= set(kinds)
    assert kinds["recording.completed.v1"] + kinds["recording.failed.v1"] > 0
    assert kinds["message.read.v1"] <= 3 * len(CUSTOMERS)  # each known message read once


async def test_the_activity_service_accepts_every_event(db: Database) -> None:
    async with service_runtime(SPEC, db) as rt:
        async with db.transaction() as session:
            for customer_id in CUSTOMERS:
                await follow_subscription(
                    session,
                    rt.outbox,
                    SubscriptionActivatedV1(
                        customer_id=customer_id,
                        subscription_id=f"sub-{customer_id}",
                        order_id=None,
                        action="opened",
                        webshop_id="shop-eu",
                        product_id="premium",
                        plan_id="premium-1m",
                        extra_product_ids=[],
                        status="active",
                        starts_at=datetime.now(UTC),
                        expires_at=datetime.now(UTC) + timedelta(days=30),
                        max_devices=5,
                    ),
                )
        outcomes: Counter[str] = Counter()
        for key, envelope in simulator().envelopes(200):
            record = consumer_record(topics.APPS_EVENTS, envelope.to_bytes(), key=key.encode())
            outcomes[await rt.consumer.process(topics.APPS_EVENTS, record)] += 1
    assert outcomes == {"handled": 200}
    rows = await outbox_rows(db, models.outbox)
    assert of_type(rows, "device.registered.v1")
    assert of_type(rows, "device.rejected.v1") == []


def test_the_command_explains_itself() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "deploy.simulator", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "--events" in result.stdout and "--from-gateway" in result.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "deploy.simulator", "--customers", "c1", "--events", "-1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2 and "--events" in refused.stderr


def test_customers_from_the_gateway_bring_profiles_and_unread_messages() -> None:
    first, second = CUSTOMERS[:2]

    def gateway(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/v1/auth/token":
            return httpx.Response(200, json={"access_token": "t", "token_type": "bearer"})
        assert request.headers["Authorization"] == "Bearer t"
        if path == "/api/v1/customers":
            assert dict(request.url.params) == {"status_group": "active", "limit": "2"}
            return httpx.Response(200, json={"items": [{"id": first}, {"id": second}]})
        if path == f"/api/v1/customers/{first}/profiles":
            return httpx.Response(200, json={"items": [{"id": "kids"}, {"id": "main"}]})
        if path == f"/api/v1/customers/{first}/messages":
            messages = [{"id": "m-1", "status": "sent"}, {"id": "m-2", "status": "read"}]
            return httpx.Response(200, json={"items": messages})
        return httpx.Response(404, json={"title": "Not Found"})

    args = parse_args(["--from-gateway", "http://gw", "--password", "pw", "--max-customers", "2"])
    customers = customers_from_gateway(args, transport=httpx.MockTransport(gateway))

    assert [(c.customer_id, c.profile_ids, c.message_ids) for c in customers] == [
        (first, ["kids", "main"], ["m-1"]),
        (second, default_profiles(second), []),
    ]
