"""The operator's dead-letter desk on the running system: a bad app event set aside by each
service that reads it, listed with its reasons through the gateway, and replayed (audited)
with `python -m deploy.dlq`, each copy going back to the one service that set it aside."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from tests.system.conftest import ADMIN_PASSWORD, System, eventually


async def _apps_topic(client: httpx.AsyncClient) -> dict[str, Any] | None:
    answer = await client.get("/api/v1/dead-letters")
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()["items"]
    return next(r for r in rows if r["topic"] == "apps.events.dlq")


def _cli(system: System, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "deploy.dlq", "--gateway", system.gateway, *args],
        env={**os.environ, "TVCM_PASSWORD": ADMIN_PASSWORD},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_a_bad_app_event_is_listed_and_replayed_once_for_each_service_that_set_it_aside(
    system: System,
) -> None:
    customer_id = str(uuid.uuid4())
    event_id = str(uuid.uuid4())
    toaster = {
        "specversion": "1.0",
        "id": event_id,
        "source": "/apps/tv",
        "type": "device.connected.v1",
        "time": datetime.now(UTC).isoformat(),
        "subject": customer_id,
        "data": {
            "customer_id": customer_id,
            "device_id": "toaster-1",
            "kind": "toaster",
            "connected_at": datetime.now(UTC).isoformat(),
        },
    }
    producer = AIOKafkaProducer(bootstrap_servers=system.kafka)
    await producer.start()
    try:
        await producer.send_and_wait(
            system.topic("apps.events"), json.dumps(toaster).encode(), key=customer_id.encode()
        )
    finally:
        await producer.stop()

    async with system.client() as client:

        async def set_aside() -> list[dict[str, Any]] | None:
            answer = await client.get("/api/v1/dead-letters/apps.events", params={"limit": 200})
            assert answer.status_code == 200, answer.text
            ours = [i for i in answer.json()["items"] if i["event_id"] == event_id]
            return ours if len(ours) >= 3 else None

        # Activity (devices), customers (last login) and billing (first login) all read it.
        ours = await eventually(set_aside, what="the bad event in apps.events.dlq")
        await asyncio.sleep(1)  # no fourth copy arrives late
        ours = await set_aside() or []
        assert sorted(i["consumer"] for i in ours) == ["activity", "billing", "customers"]
        assert all("violates its schema" in i["reason"] and "kind" in i["reason"] for i in ours)
        assert not any(i["replayed"] for i in ours)
        before = await _apps_topic(client)
        assert before is not None and before["pending"] >= 3

        shown = await asyncio.to_thread(_cli, system, "show", "apps.events", "--pending", "--json")
        assert sum(json.loads(line)["event_id"] == event_id for line in shown.splitlines()) == 3
        replayed = await asyncio.to_thread(_cli, system, "replay", "apps.events")
        assert replayed.startswith(f"replayed {before['pending']} record(s) of apps.events.dlq")

        async def set_aside_again() -> list[dict[str, Any]] | None:
            answer = await client.get(
                "/api/v1/dead-letters/apps.events", params={"limit": 200, "pending": True}
            )
            again = [i for i in answer.json()["items"] if i["event_id"] == event_id]
            return again if len(again) >= 3 else None

        # Still a toaster: each service sets its own copy aside once more, and only its own.
        again = await eventually(set_aside_again, what="the replayed copies back in the DLQ")
        await asyncio.sleep(1)
        again = await set_aside_again() or []
        assert sorted(i["consumer"] for i in again) == ["activity", "billing", "customers"]
        audit = await client.get("/api/v1/audit", params={"actor": "admin", "limit": 500})
        operator = await client.get(
            "/api/v1/dead-letters", headers={"Authorization": "Bearer not-a-token"}
        )
    entries = [e for e in audit.json()["items"] if e["action"] == "dead_letters.replay"]
    assert entries and entries[0]["after"]["replayed"] == before["pending"]
    assert operator.status_code == 401
