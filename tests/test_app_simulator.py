"""The app simulator: a bounded, reproducible stream of valid app events that the activity
service takes without a dead letter."""

import asyncio
import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import cast

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import func, select

from deploy.simulator.__main__ import customers_from_gateway, parse_args, play
from deploy.simulator.apps import AppSimulator, default_profiles, made_up
from services.activity import models
from services.activity.app import SPEC
from services.activity.customer_events import follow_subscription
from services.contracts import topics
from services.contracts.apps import (
    AppProfileCreatedV1,
    AppProfileDeletedV1,
    DeviceLogoutV1,
    FavoriteAddedV1,
    FavoriteRemoveV1,
    MessageShowV1,
    ProfileDeleteV1,
    RecordingDeleteV1,
    RecordingScheduledV1,
)
from services.contracts.billing import SubscriptionActivatedV1
from services.contracts.customers import ProfileCreatedV1, ProfileDeletedV1
from services.contracts.envelope import CloudEvent, EventData
from services.contracts.registry import TOPIC_EVENT_MODELS
from services.runtime.db import Database
from services.runtime.tests._helpers import (
    RecordingProducer,
    consumer_record,
    event_bytes,
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
    customers = [made_up(c) for c in CUSTOMERS]
    if messages:
        for customer in customers:
            customer.message_ids = [f"msg-{customer.customer_id[-2:]}-{n}" for n in range(3)]
    return AppSimulator(customers, seed=seed)


def test_the_stream_is_bounded_valid_and_reproducible() -> None:
    first = list(simulator(messages=True).envelopes(400))
    again = list(simulator(messages=True).envelopes(400))
    other = list(simulator(seed=8, messages=True).envelopes(400))

    assert len(first) == 400
    assert [(k, e.id, e.type) for k, e in first] == [(k, e.id, e.type) for k, e in again]
    assert [e.id for _, e in first] != [e.id for _, e in other]
    for key, envelope in first:
        parsed = CloudEvent.model_validate_json(envelope.to_bytes())
        data = TOPIC_EVENT_MODELS["apps.events"][parsed.type].model_validate(parsed.data)
        assert getattr(data, "customer_id") == key == parsed.subject  # noqa: B009
    kinds = Counter(e.type for _, e in first)
    # Each customer's made-up profiles are created before anything uses them.
    for customer_id in CUSTOMERS:
        own = [e for k, e in first if k == customer_id]
        assert [e.type for e in own[:2]] == ["profile.created.v1"] * 2
        assert {e.data["profile_id"] for e in own[:2]} == set(default_profiles(customer_id))
    assert {
        "profile.created.v1",
        "profile.updated.v1",
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
            # What the customers service announces of the apps' profile changes it accepts.
            data = TOPIC_EVENT_MODELS["apps.events"][envelope.type].model_validate(envelope.data)
            announced = as_customers_service(data)
            if announced is not None:
                news = consumer_record(topics.CUSTOMERS_EVENTS, event_bytes(announced))
                assert await rt.consumer.process(topics.CUSTOMERS_EVENTS, news) == "handled"
        async with db.sessions() as session:
            held = await session.scalar(select(func.count()).select_from(models.HeldAppReport))
    # The profile events are the customers service's to handle; the rest are applied.
    assert set(outcomes) == {"handled", "ignored"} and held == 0
    assert cast(RecordingProducer, rt.consumer.producer).sent == []
    rows = await outbox_rows(db, models.outbox)
    assert of_type(rows, "device.registered.v1")
    assert of_type(rows, "device.rejected.v1") == []


def as_customers_service(data: EventData) -> EventData | None:
    if isinstance(data, AppProfileCreatedV1):
        return ProfileCreatedV1(
            customer_id=data.customer_id,
            profile_id=data.profile_id,
            name=data.name,
            kids=data.kids,
            created_at=data.at,
        )
    if isinstance(data, AppProfileDeletedV1):
        return ProfileDeletedV1(
            customer_id=data.customer_id, profile_id=data.profile_id, deleted_at=data.at
        )
    return None


def command(data: EventData) -> CloudEvent:
    subject = getattr(data, "customer_id")  # noqa: B009
    return CloudEvent.wrap(data, source="/services/activity", subject=subject)


def test_the_simulated_apps_follow_the_commands() -> None:
    sim = simulator(seed=3)
    events = list(sim.events(300))
    customer = sim.customers[0]
    cid = customer.customer_id
    assert customer.favorites and customer.online
    profile_id, item_type, item_id = sorted(customer.favorites)[0]
    device_id = sorted(customer.online)[0]
    scheduled = [e for k, e in events if k == cid and isinstance(e, RecordingScheduledV1)]
    recording = next(e for e in scheduled if e.recording_id in customer.recordings)

    assert sim.apply_command(
        command(
            FavoriteRemoveV1(
                customer_id=cid, profile_id=profile_id, item_type=item_type, item_id=item_id
            )
        )
    )
    assert sim.apply_command(
        command(DeviceLogoutV1(customer_id=cid, device_id=device_id, reason="unbound_by_operator"))
    )
    assert sim.apply_command(
        command(MessageShowV1(customer_id=cid, message_id="m-new", title="Hi", body="Hello"))
    )
    assert sim.apply_command(
        command(
            RecordingDeleteV1(
                customer_id=cid,
                profile_id=recording.profile_id,
                recording_id=recording.recording_id,
            )
        )
    )
    assert recording.recording_id not in customer.recordings
    main, kids = default_profiles(cid)
    assert sim.apply_command(command(ProfileDeleteV1(customer_id=cid, profile_id=kids)))
    unknown = FavoriteRemoveV1(
        customer_id="someone-else", profile_id=main, item_type="movie", item_id="x"
    )

    assert (profile_id, item_type, item_id) not in customer.favorites
    assert device_id not in customer.online
    assert "m-new" in customer.message_ids
    assert kids not in customer.profile_ids
    assert all(f[0] != kids for f in customer.favorites | customer.watchlist)
    assert not sim.apply_command(command(unknown))
    # What follows uses only what the apps still have.
    for key, data in sim.events(300):
        if key == cid and isinstance(data, FavoriteAddedV1):
            assert data.profile_id != kids


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


def test_the_simulator_connects_with_the_sasl_settings_of_its_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "admin")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    options = parse_args(["--customers", CUSTOMERS[0]]).kafka_security.client_options()
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("admin", "s3cret")


def test_the_simulator_refuses_sasl_without_credentials(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KAFKA_SASL_USERNAME", raising=False)
    monkeypatch.delenv("KAFKA_SASL_PASSWORD", raising=False)
    argv = ["--customers", CUSTOMERS[0], "--kafka-security-protocol", "SASL_PLAINTEXT"]
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD" in capsys.readouterr().err


def test_the_simulator_is_plaintext_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    options = parse_args(["--customers", CUSTOMERS[0]]).kafka_security.client_options()
    assert options == {"security_protocol": "PLAINTEXT"}


@pytest.mark.kafka
async def test_the_simulator_takes_the_commands_sent_while_it_plays(
    kafka_bootstrap_servers: str,
) -> None:
    prefix = f"test.simulator.{uuid.uuid4().hex[:8]}."
    events_topic, commands_topic = f"{prefix}apps.events", f"{prefix}apps.commands"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(t, num_partitions=3, replication_factor=1)
                for t in (events_topic, commands_topic)
            ]
        )
        sim = simulator(seed=5)
        customer = sim.customers[0]
        _, kids = default_profiles(customer.customer_id)
        # Sent while the simulator plays 40 events at 20 a second.
        playing = asyncio.create_task(
            play(
                sim,
                events=40,
                rate=20,
                bootstrap_servers=kafka_bootstrap_servers,
                topic=events_topic,
                commands_topic=commands_topic,
                listen_seconds=3,
            )
        )
        await asyncio.sleep(1.0)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
        await producer.start()
        try:
            delete = command(ProfileDeleteV1(customer_id=customer.customer_id, profile_id=kids))
            await producer.send_and_wait(
                commands_topic, delete.to_bytes(), key=customer.customer_id.encode()
            )
        finally:
            await producer.stop()
        counts = await playing
    finally:
        await admin.delete_topics([events_topic, commands_topic])
        await admin.close()

    assert counts["command profile.delete.v1"] == 1
    assert kids not in customer.profile_ids
    assert sum(n for t, n in counts.items() if not t.startswith("command ")) == 40
