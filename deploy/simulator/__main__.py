"""Play TV-app activity onto `apps.events`: `python -m deploy.simulator --help`.

    python -m deploy.simulator --customers ID,ID --events 500 --rate 50
    python -m deploy.simulator --from-gateway http://127.0.0.1:8000 --username admin \\
        --password ... --max-customers 20 --events 2000 --rate 0

Customers come from `--customers` (the simulator creates two profiles for each first, as an
app would) or from the gateway (active customers, with their profiles and unread messages where
the gateway serves them). The stream is bounded (`--events`), seeded (`--seed`) and paced
(`--rate` events per second, 0 = as fast as Kafka takes them). Meanwhile, and `--listen`
seconds after, the simulated apps take the commands of `apps.commands` (an operator's removals,
logouts, messages) into their state.

On a Kafka that wants SASL (`make cluster`), the simulator connects with the same variables a
service reads: KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and
KAFKA_SASL_PASSWORD (the cluster writes its admin's into .run/cluster/kafka-admin.env).
"""

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from deploy.simulator.apps import AppSimulator, SimulatedCustomer, made_up
from services.contracts.envelope import CloudEvent
from services.runtime.kafka_security import KafkaSecurity


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
        "--listen",
        type=float,
        default=2.0,
        help="seconds to keep taking apps.commands after the last event",
    )
    parser.add_argument(
        "--bootstrap-servers",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
    )
    parser.add_argument(
        "--topic-prefix",
        default=os.environ.get("KAFKA_TOPIC_PREFIX", ""),
        help="as KAFKA_TOPIC_PREFIX of the system",
    )
    parser.add_argument(
        "--kafka-security-protocol",
        default=os.environ.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"),
        help="as KAFKA_SECURITY_PROTOCOL (SASL_PLAINTEXT on `make cluster`)",
    )
    parser.add_argument(
        "--kafka-sasl-mechanism", default=os.environ.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    )
    # The password only from the environment: a command line is visible to every local user.
    parser.add_argument("--kafka-sasl-username", default=os.environ.get("KAFKA_SASL_USERNAME"))
    args = parser.parse_args(argv)
    try:
        args.kafka_security = KafkaSecurity.model_validate(
            {
                "protocol": args.kafka_security_protocol,
                "sasl_mechanism": args.kafka_sasl_mechanism,
                "sasl_username": args.kafka_sasl_username,
                "sasl_password": os.environ.get("KAFKA_SASL_PASSWORD"),
            }
        )
    except ValueError as error:
        parser.error(f"Kafka security: {error}")
    if args.events < 0 or args.rate < 0 or args.max_customers < 1 or args.listen < 0:
        parser.error("--events, --rate and --listen must be >= 0, --max-customers >= 1")
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
            # Without the gateway's profiles, the simulator creates its own first.
            customer = made_up(customer_id)
            if profiles:
                customer = SimulatedCustomer(customer_id, [p["id"] for p in profiles])
            customer.message_ids = [m["id"] for m in messages if m.get("status") == "sent"]
            customers.append(customer)
    return customers


async def _commands_from_now(
    producer: AIOKafkaProducer,
    bootstrap_servers: str,
    topic: str,
    kafka_options: Mapping[str, Any],
) -> AIOKafkaConsumer:
    """A consumer of every partition of `topic`, positioned at its end (no group: each
    simulator run hears the commands sent while it runs)."""
    partitions = [TopicPartition(topic, p) for p in sorted(await producer.partitions_for(topic))]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, **kafka_options
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for partition in partitions:
            await consumer.position(partition)  # resolved now, not at the first fetch
    except BaseException:
        await consumer.stop()
        raise
    return consumer


async def take_commands(
    simulator: AppSimulator, consumer: AIOKafkaConsumer, counts: Counter[str]
) -> None:
    """Until cancelled: each command for a simulated customer changes what its apps hold."""
    while True:
        batches = await consumer.getmany(timeout_ms=200)
        for records in batches.values():
            for record in records:
                try:
                    command = CloudEvent.model_validate_json(record.value or b"")
                except ValueError:
                    continue  # not ours to judge: the apps skip what they cannot read
                if simulator.apply_command(command):
                    counts[f"command {command.type}"] += 1


async def play(
    simulator: AppSimulator,
    *,
    events: int,
    rate: float,
    bootstrap_servers: str,
    topic: str,
    commands_topic: str | None = None,
    listen_seconds: float = 0.0,
    kafka_options: Mapping[str, Any] | None = None,
) -> Counter[str]:
    """Send the stream; with `commands_topic`, take the commands meanwhile and for
    `listen_seconds` after. Counts events sent by type, and commands taken. `kafka_options`:
    aiokafka's security keywords (`KafkaSecurity.client_options()`)."""
    options = dict(kafka_options or {})
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        **options,
    )
    await producer.start()
    counts: Counter[str] = Counter()
    listener = None
    started = time.monotonic()
    try:
        if commands_topic is not None:
            consumer = await _commands_from_now(
                producer, bootstrap_servers, commands_topic, options
            )
            listener = asyncio.create_task(take_commands(simulator, consumer, counts))
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
        if listener is not None:
            await asyncio.sleep(listen_seconds)
    finally:
        await producer.stop()
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            await consumer.stop()
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.customers:
        ids = [c.strip() for c in args.customers.split(",") if c.strip()]
        customers = [made_up(c) for c in ids]
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
            commands_topic=f"{args.topic_prefix}apps.commands",
            listen_seconds=args.listen,
            kafka_options=args.kafka_security.client_options(),
        )
    )
    elapsed = time.monotonic() - started
    summary = {
        "customers": len(customers),
        "events": sum(n for t, n in counts.items() if not t.startswith("command ")),
        "seconds": round(elapsed, 2),
        "by_type": dict(sorted(counts.items())),
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
