"""The Kafka ACLs of each process's user, derived from the code: what a service's handlers
consume and what it declares it publishes (its `ServiceSpec`), the dead-letter topics of what it
consumes, its consumer group; what the gateway's stats page and dead-letter desk touch.

One source for the local cluster (`deploy/local/kafka_auth.py` creates these ACLs on its
brokers), the Kubernetes users (`deploy/k8s/kafka/kafka-users.yaml`, checked against these by
tests/test_deploy.py) and the table in docs/deploy.md (`python -m deploy.kafka_acls` prints it;
tests/test_kafka_acls.py checks it).
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import Final, Literal

from services.contracts.topics import ALL_TOPICS, MAIN_TOPICS, dlq
from services.runtime.dead_letters import REPLAY_GROUP

SERVICES: Final = ("customers", "billing", "tickets", "activity")
GATEWAY: Final = "gateway"
PROCESSES: Final = (*SERVICES, GATEWAY)

Resource = Literal["topic", "group"]
Operation = Literal["Read", "Write", "Create", "Describe"]


@dataclass(frozen=True, order=True)
class Acl:
    """One allowed operation of one user on one named (literal) topic or group."""

    principal: str
    resource: Resource
    name: str
    operation: Operation


@functools.cache
def consumed_topics(service: str) -> frozenset[str]:
    """The topics `service`'s handlers are registered for (its consumer subscribes to these)."""
    # The service's own wiring, so a handler added later changes its ACLs by itself. Built
    # from defaults, not the environment: nothing is connected or written.
    from services.runtime.service_app import build_runtime

    spec = importlib.import_module(f"services.{service}.app").SPEC
    settings = spec.settings.model_construct(database_url="sqlite+aiosqlite:///never-opened.db")
    return frozenset(build_runtime(spec, settings).consumer.handlers)


@functools.cache
def published_topics(service: str) -> frozenset[str]:
    """The topics `service` declares it publishes to (its outbox relay writes these)."""
    spec = importlib.import_module(f"services.{service}.app").SPEC
    return frozenset(topic for topic, _ in spec.publishes)


def consumed_anywhere() -> frozenset[str]:
    return frozenset().union(*(consumed_topics(service) for service in SERVICES))


def _grant(
    principal: str, resource: Resource, names: frozenset[str] | tuple[str, ...], *ops: Operation
) -> set[Acl]:
    return {Acl(principal, resource, name, op) for name in names for op in ops}


def service_acls(service: str, prefix: str = "") -> frozenset[Acl]:
    """A service reads what it consumes, writes what it publishes and the dead-letter topics of
    what it consumes, uses the group named after it, and may create (and so describe) every
    topic of the system, since its start-up creates the missing ones."""
    consumed = consumed_topics(service)
    written = published_topics(service) | {dlq(topic) for topic in consumed}
    acls = (
        _grant(service, "topic", consumed, "Read", "Describe")
        | _grant(service, "topic", frozenset(written), "Write", "Describe")
        | _grant(service, "topic", ALL_TOPICS, "Create", "Describe")
        | _grant(service, "group", (service,), "Read", "Describe")
    )
    return _prefixed(acls, prefix)


def gateway_acls(prefix: str = "") -> frozenset[Acl]:
    """The gateway describes the topics and the services' groups (the stats page's consumer
    lag), reads the dead-letter topics in its group `dlq-replay` and writes a replayed record
    back to the topic it came from (the dead-letter desk)."""
    consumed = consumed_anywhere()
    acls = (
        _grant(GATEWAY, "topic", MAIN_TOPICS, "Describe")
        | _grant(GATEWAY, "topic", frozenset(dlq(t) for t in consumed), "Read", "Describe")
        | _grant(GATEWAY, "topic", consumed, "Write")
        | _grant(GATEWAY, "group", SERVICES, "Describe")
        | _grant(GATEWAY, "group", (REPLAY_GROUP,), "Read", "Describe")
    )
    return _prefixed(acls, prefix)


def process_acls(process: str, prefix: str = "") -> frozenset[Acl]:
    return gateway_acls(prefix) if process == GATEWAY else service_acls(process, prefix)


def all_acls(prefix: str = "") -> frozenset[Acl]:
    """Every process's ACLs, under the deployment's KAFKA_TOPIC_PREFIX (topics and groups)."""
    return frozenset().union(*(process_acls(process, prefix) for process in PROCESSES))


def _prefixed(acls: set[Acl], prefix: str) -> frozenset[Acl]:
    return frozenset(Acl(a.principal, a.resource, f"{prefix}{a.name}", a.operation) for a in acls)


def _names(acls: frozenset[Acl], resource: Resource, operation: Operation) -> str:
    names = sorted(a.name for a in acls if a.resource == resource and a.operation == operation)
    return ", ".join(f"`{name}`" for name in names) or "-"


def markdown_table() -> str:
    """The ACLs as docs/deploy.md shows them (Describe goes with every topic and group named)."""
    lines = [
        "| user | reads (topics) | writes (topics) | groups (read) | groups (describe only) |",
        "|---|---|---|---|---|",
    ]
    for process in PROCESSES:
        acls = process_acls(process)
        read_groups = {a.name for a in acls if a.resource == "group" and a.operation == "Read"}
        described_only = frozenset(
            a for a in acls if a.resource == "group" and a.name not in read_groups
        )
        lines.append(
            f"| `{process}` | {_names(acls, 'topic', 'Read')} | {_names(acls, 'topic', 'Write')} "
            f"| {_names(acls, 'group', 'Read')} | {_names(described_only, 'group', 'Describe')} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
