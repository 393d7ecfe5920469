"""The contracts: every payload's JSON schema is pinned by a committed snapshot, every event
type is versioned, and payloads survive the envelope unchanged (money as decimal strings)."""

import json
import os
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from services.contracts.billing import TransactionRecordedV1
from services.contracts.envelope import CloudEvent
from services.contracts.registry import EVENT_MODELS, TOPIC_EVENT_MODELS, json_schemas

HERE = Path(__file__).resolve()
SNAPSHOT = HERE.with_name("schemas.snapshot.json")
UPDATE_ENV = "UPDATE_CONTRACT_SNAPSHOT"
HOW_TO_UPDATE = (
    f"If the change is intended and compatible (additive), or a new version was added, run\n"
    f"    {UPDATE_ENV}=1 python -m pytest {HERE.relative_to(HERE.parents[3])}\n"
    f"and commit {SNAPSHOT.name}. A breaking change needs a new `.vN` type instead."
)


def _render(schemas: dict[str, dict[str, object]]) -> str:
    return json.dumps(schemas, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_json_schemas_match_the_committed_snapshot() -> None:
    current = json_schemas()
    if os.environ.get(UPDATE_ENV) == "1":
        SNAPSHOT.write_text(_render(current), encoding="utf-8")
    if not SNAPSHOT.is_file():
        pytest.fail(f"{SNAPSHOT} is missing.\n{HOW_TO_UPDATE}", pytrace=False)

    committed = json.loads(SNAPSHOT.read_text(encoding="utf-8"))

    removed = sorted(set(committed) - set(current))
    added = sorted(set(current) - set(committed))
    changed = sorted(t for t in set(committed) & set(current) if committed[t] != current[t])
    if removed or added or changed:
        pytest.fail(
            "The event contracts differ from the snapshot:\n"
            f"  removed types: {removed}\n  added types: {added}\n  changed schemas: {changed}\n"
            f"{HOW_TO_UPDATE}",
            pytrace=False,
        )


def test_the_snapshot_file_is_rendered_canonically() -> None:
    """So that an update shows as a readable diff and nothing else."""
    if not SNAPSHOT.is_file():
        pytest.fail(f"{SNAPSHOT} is missing.\n{HOW_TO_UPDATE}", pytrace=False)
    text = SNAPSHOT.read_text(encoding="utf-8")
    assert text == _render(json.loads(text))


VERSIONED = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+\.v([1-9][0-9]*)$")


ALL_TYPES = sorted((topic, t) for topic, models in TOPIC_EVENT_MODELS.items() for t in models)


@pytest.mark.parametrize(("topic", "event_type"), ALL_TYPES)
def test_every_event_type_is_versioned(topic: str, event_type: str) -> None:
    model = TOPIC_EVENT_MODELS[topic][event_type]
    match = VERSIONED.match(event_type)
    assert match, f"{event_type!r} must look like 'thing.happened.vN'"
    assert model.event_type == event_type
    # The class name carries the same version: CustomerCreatedV1 <-> customer.created.v1.
    assert model.__name__.endswith(f"V{match.group(2)}"), model.__name__


def test_every_registered_model_is_registered_once() -> None:
    models = [m for models in TOPIC_EVENT_MODELS.values() for m in models.values()]
    assert len(models) == len(set(models))


def test_a_type_on_two_topics_is_not_taken_for_either_payload() -> None:
    """The apps' profile.created.v1 (with a PIN) is not the customers service's (without)."""
    assert "profile.created.v1" not in EVENT_MODELS
    apps_created = TOPIC_EVENT_MODELS["apps.events"]["profile.created.v1"]
    customers_created = TOPIC_EVENT_MODELS["customers.events"]["profile.created.v1"]
    assert apps_created is not customers_created
    assert "pin" in apps_created.model_fields
    assert "pin" not in customers_created.model_fields


def test_a_payload_survives_the_envelope_with_money_as_a_decimal_string() -> None:
    recorded = TransactionRecordedV1(
        customer_id="c-1",
        transaction_id="t-1",
        kind="payment",
        amount=Decimal("12.50"),
        currency="EUR",
        order_id="o-1",
        recorded_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    wire = CloudEvent.wrap(recorded, source="/services/billing", subject="c-1").to_bytes()

    assert json.loads(wire)["data"]["amount"] == "12.50"
    event = CloudEvent.model_validate_json(wire)
    assert event.type == "transaction.recorded.v1"
    parsed = EVENT_MODELS[event.type].model_validate(event.data)
    assert parsed == recorded


@pytest.mark.parametrize("amount", ["0.00001", "NaN", "Infinity", "1e13"])
def test_money_refuses_what_is_not_an_amount(amount: str) -> None:
    with pytest.raises(ValueError):
        TransactionRecordedV1(
            customer_id="c-1",
            transaction_id="t-1",
            kind="payment",
            amount=Decimal(amount),
            currency="EUR",
            order_id=None,
            recorded_at=datetime(2025, 1, 2, tzinfo=UTC),
        )
