"""Play TV-app activity onto `apps.events`: `python -m deploy.simulator --help`.

    python -m deploy.simulator --customers ID,ID --events 500 --rate 50
    python -m deploy.simulator --from-gateway http://127.0.0.1:8000 --username admin \\
        --password ... --max-customers 20 --events 2000 --rate 0

Customers come from `--customers` or from the gateway (active customers, with their profiles
and unread messages where the gateway serves them). The stream is bounded (`--events`), seeded
(`--seed`) and paced (`--rate` events per second, 0 = as fast as Kafka takes them).
"""

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from deploy.simulator.apps import AppSimulator, SimulatedCustomer, default_profiles


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.simulator",
        description="Play a seeded-random stream of TV-app events onto apps.events.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--customers", help="comma-separated customer ids")
    source.add_argument("--from-gateway", metavar="URL", help="take active customers from it")
    parser.add_argument("--username", default=os.environ.get("ADMIN_USERNAME", "admin"))
    parser.add_argument("--password", default=os.environ.get("ADMIN_PASSWORD"))
    parser.add_argument("--api-key", default=os.environ.get("GATEWAY_API_KEY"))
    parser.add_argument("--max-customers", type=int, default=10, help="from the gateway")
    parser.add_argument("--events", type=int, default=100, help="how many events in all")
    parser.add_argument("--rate", type=float, default=20.0, help="events per second; 0 = max")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--bootstrap-servers",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
    )
    parser.add_argument(
        "--topic-prefix",
        default=os.environ.get("KAFKA_TOPIC_PREFIX", ""),
        help="as KAFKA_TOPIC_PREFIX of the system",
    )
    args = parser.parse_args(argv)
    if args.events < 0 or args.rate < 0 or args.max_customers < 1:
        parser.error("--events and --rate must be >= 0, --max-customers >= 1")
    if args.from_gateway and not (args.password or args.api_key):
        parser.error("--from-gateway needs --password (or ADMIN_PASSWORD) or --api-key")
    return args


def _optional_items(client: httpx.Client, path: str) -> list[dict[str, Any]]:
    """A list the gateway may not serve (yet): empty if it does not answer it."""
    try:
        response = client.get(path)
    except httpx.HTTPError:
        return []
    if response.status_code != 200:
        return []
    items: list[dict[str, Any]] = response.json().get("items", [])
    return items


def customers_from_gateway(
    args: argparse.Namespace, transport: httpx.BaseTransport | None = None
) -> list[SimulatedCustomer]:
    """Active customers, with their profiles and their messages not read yet where the gateway
    serves those lists."""
    with httpx.Client(base_url=args.from_gateway, timeout=10.0, transport=transport) as client:
        if args.api_key:
            client.headers["X-API-Key"] = args.api_key
        else:
            token = client.post(
                "/api/v1/auth/token", data={"username": args.username, "password": args.password}
            )
            token.raise_for_status()
            client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        listed = client.get(
            "/api/v1/customers", params={"status_group": "active", "limit": args.max_customers}
        )
        listed.raise_for_status()
        customers = []
        for record in listed.json()["items"]:
            customer_id = record["id"]
            profiles = _optional_items(client, f"/api/v1/customers/{customer_id}/profiles")
            messages = _optional_items(client, f"/api/v1/customers/{customer_id}/messages")
            customers.append(
                SimulatedCustomer(
                    customer_id=customer_id,
                    profile_ids=[p["id"] for p in profiles] or default_profiles(customer_id),
                    message_ids=[m["id"] for m in messages if m.get("status") == "sent"],
                )
            )
    return customers


async def play(
    simulator: AppSimulator, *, events: int, rate: float, bootstrap_servers: str, topic: str
) -> Counter[str]:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, enable_idempotence=True, acks="all", linger_ms=5
    )
    await producer.start()
    counts: Counter[str] = Counter()
    started = time.monotonic()
    try:
        pending = []
        for number, (customer_id, envelope) in enumerate(simulator.envelopes(events)):
            if rate > 0:
                # Paced against the start, so a slow send is caught up, not accumulated.
                delay = started + number / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            pending.append(
                await producer.send(topic, envelope.to_bytes(), key=customer_id.encode())
            )
            counts[envelope.type] += 1
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.customers:
        ids = [c.strip() for c in args.customers.split(",") if c.strip()]
        customers = [SimulatedCustomer(c, default_profiles(c)) for c in ids]
    else:
        customers = customers_from_gateway(args)
    if not customers:
        print("no customers to simulate", file=sys.stderr)
        return 1
    simulator = AppSimulator(customers, seed=args.seed)
    started = time.monotonic()
    counts = asyncio.run(
        play(
            simulator,
            events=args.events,
            rate=args.rate,
            bootstrap_servers=args.bootstrap_servers,
            topic=f"{args.topic_prefix}apps.events",
        )
    )
    elapsed = time.monotonic() - started
    summary = {
        "customers": len(customers),
        "events": sum(counts.values()),
        "seconds": round(elapsed, 2),
        "by_type": dict(sorted(counts.items())),
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
