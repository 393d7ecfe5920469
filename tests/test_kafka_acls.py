"""deploy/kafka_acls.py: the Kafka ACLs derived from what each process's code consumes and
publishes, and the table of them in docs/deploy.md. No broker: the refusals themselves are
tests/system/test_cluster_acls.py's."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from deploy.kafka_acls import (
    GATEWAY,
    PROCESSES,
    SERVICES,
    Acl,
    all_acls,
    consumed_anywhere,
    gateway_acls,
    markdown_table,
    process_acls,
    service_acls,
)
from services.contracts.topics import ALL_TOPICS, MAIN_TOPICS, dlq
from services.runtime.dead_letters import REPLAY_GROUP
from services.runtime.service_app import build_runtime

DEPLOY_DOC = Path(__file__).resolve().parents[1] / "docs" / "deploy.md"
TABLE = re.compile(r"<!-- kafka-acls:start -->\n(.*?)<!-- kafka-acls:end -->", re.DOTALL)


def names(acls: frozenset[Acl], resource: str, operation: str) -> set[str]:
    return {a.name for a in acls if a.resource == resource and a.operation == operation}


def handled_topics(service: str) -> set[str]:
    """The topics `service`'s consumer subscribes to, from its runtime as the app builds it."""
    spec = importlib.import_module(f"services.{service}.app").SPEC
    settings = spec.settings(database_url="sqlite+aiosqlite:///x.db", port=0)
    return set(build_runtime(spec, settings).consumer.handlers)


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_reads_what_it_handles_and_writes_what_it_publishes(service: str) -> None:
    acls = service_acls(service)
    spec = importlib.import_module(f"services.{service}.app").SPEC
    consumed = handled_topics(service)
    assert consumed, service
    assert names(acls, "topic", "Read") == consumed
    published = {topic for topic, _ in spec.publishes}
    assert names(acls, "topic", "Write") == published | {dlq(t) for t in consumed}
    assert names(acls, "topic", "Create") == set(ALL_TOPICS)
    # Describe goes with every topic it may touch, and nothing else is granted.
    assert names(acls, "topic", "Describe") == set(ALL_TOPICS)
    assert {(a.name, a.operation) for a in acls if a.resource == "group"} == {
        (service, "Read"),
        (service, "Describe"),
    }
    assert {a.principal for a in acls} == {service}


def test_no_service_may_write_what_another_publishes_unless_it_publishes_it_too() -> None:
    writers: dict[str, set[str]] = {}
    for service in SERVICES:
        for topic in names(service_acls(service), "topic", "Write"):
            writers.setdefault(topic, set()).add(service)
    assert writers["billing.events"] == {"billing"}
    assert writers["customers.events"] == {"customers"}
    assert "billing" not in writers["activity.events"]


def test_the_gateway_reads_only_dead_letters_and_describes_the_services_groups() -> None:
    acls = gateway_acls()
    consumed = consumed_anywhere()
    assert names(acls, "topic", "Read") == {dlq(t) for t in consumed}
    # A replay sends a dead letter back to the topic it came from.
    assert names(acls, "topic", "Write") == set(consumed)
    assert names(acls, "topic", "Describe") == set(MAIN_TOPICS) | {dlq(t) for t in consumed}
    assert names(acls, "topic", "Create") == set()
    assert names(acls, "group", "Describe") == {*SERVICES, REPLAY_GROUP}
    assert names(acls, "group", "Read") == {REPLAY_GROUP}
    assert {a.principal for a in acls} == {GATEWAY}


def test_the_prefix_of_a_deployment_goes_on_every_topic_and_group() -> None:
    plain, prefixed = all_acls(), all_acls("staging.")
    assert len(prefixed) == len(plain)
    assert {a.name.removeprefix("staging.") for a in prefixed} == {a.name for a in plain}
    assert all(a.name.startswith("staging.") for a in prefixed)


def test_every_process_has_acls_and_none_is_a_wildcard() -> None:
    for process in PROCESSES:
        assert process_acls(process)
    assert not any("*" in a.name for a in all_acls())


def test_docs_show_the_acl_table_of_the_code() -> None:
    found = TABLE.search(DEPLOY_DOC.read_text(encoding="utf-8"))
    assert found, "docs/deploy.md has no <!-- kafka-acls:start --> ... end block"
    assert found.group(1) == markdown_table(), (
        "docs/deploy.md's ACL table is not the code's: paste `python -m deploy.kafka_acls`"
    )
