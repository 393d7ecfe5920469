"""The fault campaign's parts that need no cluster: the seeded schedule, and the checker's
judgements on hand-made topics and histories (each must see the fault it names)."""

import json
from pathlib import Path
from typing import Any

from deploy.chaos.checker import (
    Findings,
    Record,
    check_apps_and_poison,
    check_topic_order,
    first_occurrences,
    sent_order,
    verdicts,
)
from deploy.chaos.history import History, read_history
from deploy.chaos.report import (
    END_MARKER,
    START_MARKER,
    faults_injected,
    postgres_outages,
    update_docs,
)
from deploy.chaos.schedule import plan
from services.contracts.topics import (
    APPS_EVENTS,
    BILLING_EVENTS,
    CUSTOMERS_EVENTS,
    MAIN_TOPICS,
    dlq,
)


def record(topic: str, offset: int, key: str, event: dict[str, Any], **headers: str) -> Record:
    return Record(topic, 0, offset, key, json.dumps(event).encode(), dict(headers))


def activated(event_id: str, customer_id: str, expires_at: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "source": "/services/billing",
        "type": "subscription.activated.v1",
        "data": {"customer_id": customer_id, "expires_at": expires_at},
    }


def no_topics() -> dict[str, list[Record]]:
    return {t: [] for t in (*MAIN_TOPICS, *(dlq(t) for t in MAIN_TOPICS))}


def test_the_schedule_is_the_seed_s_and_the_short_one_has_every_cheap_fault() -> None:
    assert plan(7, 300) == plan(7, 300)
    assert plan(7, 300) != plan(8, 300)
    full = plan(7, 300).counts()
    assert full["broker_kill"] + full["broker_pause"] == 5
    assert full["postgres_stop"] == full["scale_group"] == 1
    assert full["kill_process"] >= 20
    short = plan(7, 75, short=True).counts()
    for kind in ("kill_process", "kill_relay", "broker_kill", "postgres_stop", "poison"):
        assert short[kind] >= 1, kind
    assert all(f.at < 75 for f in (*plan(7, 75, short=True).big, *plan(7, 75, short=True).small))


def test_a_record_seen_again_is_a_duplicate_not_a_new_event() -> None:
    event = activated("e1", "c1", "2027-01-01T00:00:00Z")
    records = [record(BILLING_EVENTS, n, "c1", event) for n in range(3)]
    firsts, duplicates = first_occurrences(records)
    assert [r.offset for r, _ in firsts] == [0]
    assert duplicates == 2


def test_an_expiry_that_goes_back_on_one_key_is_an_inversion() -> None:
    topics = no_topics()
    topics[BILLING_EVENTS] = [
        record(BILLING_EVENTS, 0, "c1", activated("e1", "c1", "2027-01-01T00:00:00Z")),
        record(BILLING_EVENTS, 1, "c2", activated("e2", "c2", "2026-06-01T00:00:00Z")),
        record(BILLING_EVENTS, 2, "c1", activated("e3", "c1", "2027-02-01T00:00:00Z")),
        # A duplicate of an earlier event is not an inversion: consumers skip it.
        record(BILLING_EVENTS, 3, "c1", activated("e1", "c1", "2027-01-01T00:00:00Z")),
    ]
    findings = Findings()
    check_topic_order(findings, topics, {})
    assert findings.counts["order_inversions"] == 0

    topics[BILLING_EVENTS].append(
        record(BILLING_EVENTS, 4, "c1", activated("e4", "c1", "2027-01-15T00:00:00Z"))
    )
    check_topic_order(findings, topics, {})
    assert findings.counts["order_inversions"] == 1


def test_a_customer_event_before_its_creation_is_an_inversion() -> None:
    topics = no_topics()
    created = {"id": "e2", "source": "/services/customers", "type": "customer.created.v1"}
    updated = {"id": "e1", "source": "/services/customers", "type": "customer.updated.v1"}
    topics[CUSTOMERS_EVENTS] = [
        record(CUSTOMERS_EVENTS, 0, "c1", updated),
        record(CUSTOMERS_EVENTS, 1, "c1", created),
    ]
    findings = Findings()
    check_topic_order(findings, topics, {})
    assert findings.counts["order_inversions"] == 1


def test_app_events_read_out_of_the_order_they_were_acknowledged_are_inversions(
    tmp_path: Path,
) -> None:
    history = History(tmp_path)
    for event_id in ("a", "b", "c"):
        history.record("apps", "ok", "app_event", event_id=event_id, key="c1")
    history.close()
    entries = list(read_history(tmp_path))
    topics = no_topics()
    app = {"source": "/apps/simulator", "type": "device.heartbeat.v1"}
    topics[APPS_EVENTS] = [
        record(APPS_EVENTS, n, "c1", {**app, "id": i}) for n, i in enumerate(["a", "c", "b"])
    ]
    findings = Findings()
    check_topic_order(findings, topics, sent_order(entries))
    assert findings.counts["order_inversions"] == 1


def test_lost_app_events_poison_left_alone_and_dead_letters_without_a_reason_are_counted(
    tmp_path: Path,
) -> None:
    history = History(tmp_path)
    history.record("apps", "ok", "app_event", event_id="kept", key="c1")
    history.record("apps", "ok", "app_event", event_id="lost", key="c1")
    history.record("poisoner", "ok", "poison", topic=APPS_EVENTS, key="poison-1", kind="schema")
    history.record("poisoner", "ok", "poison", topic=APPS_EVENTS, key="poison-2", kind="schema")
    history.close()
    topics = no_topics()
    app = {"source": "/apps/simulator", "type": "device.heartbeat.v1"}
    topics[APPS_EVENTS] = [record(APPS_EVENTS, 0, "c1", {**app, "id": "kept"})]
    topics[dlq(APPS_EVENTS)] = [
        record(dlq(APPS_EVENTS), 0, "poison-1", {}, **{"x-dlq-reason": "violates its schema"}),
        record(dlq(APPS_EVENTS), 1, "other", {}),
    ]
    findings = Findings()
    sizes = check_apps_and_poison(findings, list(read_history(tmp_path)), topics)
    assert findings.counts["lost_app_events"] == 1
    assert findings.counts["poison_not_dead_lettered"] == 1
    assert findings.counts["dlq_without_reason"] == 1
    assert sizes == {"app_events_acknowledged": 2, "poison_records": 2, "dead_letters": 2}


def test_every_target_must_be_met() -> None:
    counts: dict[str, Any] = {
        "lost_orders": 0,
        "lost_operator_writes": 0,
        "lost_app_events": 0,
        "poison_not_dead_lettered": 0,
        "duplicate_effects": 0,
        "order_inversions": 0,
        "outbox_rows_left": 0,
        "dlq_without_reason": 0,
        "recovery_seconds": 12.5,
    }
    assert all(verdicts(counts).values())
    assert not verdicts({**counts, "lost_orders": 1})["lost"]
    assert not verdicts({**counts, "recovery_seconds": None})["recovery_seconds"]
    assert not verdicts({**counts, "recovery_seconds": 61})["recovery_seconds"]


def test_a_postgresql_outage_is_told_by_what_the_writes_sent_meanwhile_got(
    tmp_path: Path,
) -> None:
    history = History(tmp_path)
    history.record("nemesis", "start", "postgres_stop")
    history.record("operator-a", "invoke", "renew", key="k1")
    history.record("operator-a", "invoke", "renew", key="k2")
    history.record("nemesis", "stop", "postgres_stop")
    history.record("operator-a", "ok", "renew", key="k1", retried_on=["503", "503"])
    history.record("operator-a", "info", "renew", key="k2", retried_on=["503", "ConnectError"])
    history.close()
    [sentence] = postgres_outages(list(read_history(tmp_path)))
    assert "2 operator writes sent meanwhile" in sentence
    assert "answered 3 x 503, 1 x ConnectError" in sentence
    assert "{'ok': 1, 'info': 1}" in sentence
    assert "died unasked meanwhile: none" in sentence


def test_faults_are_counted_from_the_history_and_the_docs_keep_their_prose(
    tmp_path: Path,
) -> None:
    history = History(tmp_path)
    history.record("nemesis", "start", "broker_kill", target="kafka-2")
    history.record("nemesis", "stop", "broker_kill", target="kafka-2", outcome="ready")
    history.record("nemesis", "start", "kill_relay", target="billing")
    history.record("nemesis", "stop", "kill_relay", target="billing", outcome="not triggered")
    history.close()
    injected = faults_injected(read_history(tmp_path))
    assert injected["broker_kill"] == {"started": 1, "ready": 1}
    assert injected["kill_relay"]["not triggered"] == 1

    docs = tmp_path / "reliability.md"
    docs.write_text(f"# Prose\n\n{START_MARKER}\nold\n{END_MARKER}\n\nMore prose.\n")
    update_docs(docs, f"{START_MARKER}\nnew\n{END_MARKER}\n")
    assert docs.read_text() == f"# Prose\n\n{START_MARKER}\nnew\n{END_MARKER}\n\nMore prose.\n"
