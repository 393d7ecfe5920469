"""The gateway's OpenAPI document is its contract: schemathesis fuzzes every operation of it, in
every phase (examples, coverage, fuzzing, stateful), signed in as the seeded admin, against the
gateway served over HTTP in front of the four real services, and every check it has must pass.

Run it alone: `python -m pytest -s gateway/tests/test_contract_fuzz.py` (`-s` prints the seconds
per phase and operation). The budget (examples per operation, steps per stateful scenario)
keeps it to about a minute of CPU; the seed is fixed so a failure found once is found again.
"""

import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events as engine_events
from schemathesis.engine import from_schema

from gateway.tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME
from gateway.tests.served import served_gateway

SEED = 20261201
EXAMPLES_PER_OPERATION = 6
STATEFUL_STEPS = 5


def fuzz_config(token: str) -> dict[str, Any]:
    """Every phase, every check, the seeded admin's access token."""
    return {
        "seed": SEED,
        "workers": 1,
        "generation": {
            "max-examples": EXAMPLES_PER_OPERATION,
            "database": "none",
            # The admin's token goes on every request; a made-up X-API-Key beside it would
            # only be refused (401) and test nothing past sign-in.
            "with-security-parameters": False,
        },
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": True, "max-steps": STATEFUL_STEPS},
        },
        "checks": {
            "enabled": True,
            # Schema-valid is not always acceptable: 422 is how the API refuses what a JSON
            # schema cannot say (a cursor this list did not give out, a reused Idempotency-Key,
            # a webshop that does not exist, a leaked password, a currency outside ISO 4217),
            # documented on every operation. Everything else the check holds as it is.
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
            },
        },
        # A static token, not schemathesis' dynamic sign-in: its ignored_auth probes must go
        # out without credentials, and a dynamic provider puts the token back on them.
        "auth": {"openapi": {"BearerToken": {"bearer": token}}},
    }


def _answer(recorder: Any, case_id: str) -> str:
    """What the gateway answered to a failing case: its status and the start of its body."""
    response = recorder.find_response(case_id=case_id)
    if response is None:
        return "no answer"
    return f"{response.status_code} {response.text[:200]!r}"


def _failures(stream: Any) -> tuple[list[str], Counter[str], dict[str, float]]:
    """Every failed check and engine error, the scenarios per phase and the seconds per
    operation."""
    found: list[str] = []
    scenarios: Counter[str] = Counter()
    seconds: dict[str, float] = defaultdict(float)
    for event in stream:
        if isinstance(event, engine_events.PhaseFinished):
            seconds[f"phase {event.phase.name.value}"] += event.timestamp
        elif isinstance(event, engine_events.PhaseStarted):
            seconds[f"phase {event.phase.name.value}"] -= event.timestamp
        elif isinstance(event, engine_events.ScenarioFinished):
            scenarios[str(event.phase.value)] += 1
            seconds[event.recorder.label] += event.elapsed_time
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.failure_info is None:
                        continue
                    failure = check.failure_info.failure
                    found.append(
                        f"[{event.phase.value}] {event.recorder.label}: {check.name}: "
                        f"{failure.title} ({_answer(event.recorder, case_id)})"
                    )
        elif isinstance(event, engine_events.NonFatalError):
            found.append(f"[{event.phase}] {event.label}: error: {event.info.title}: {event.value}")
        elif isinstance(event, engine_events.FatalError):
            found.append(f"fatal: {event.exception!r}")
    return sorted(set(found)), scenarios, seconds


@pytest.mark.kafka
def test_the_gateway_answers_what_its_openapi_documents(
    request: pytest.FixtureRequest, tmp_path: Path, kafka_bootstrap_servers: str
) -> None:
    with served_gateway(
        request,
        tmp_path,
        # The dead letters and the stats page read the broker.
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        kafka_topic_prefix=f"fuzz-{uuid.uuid4().hex[:8]}-",
        # Fuzzed sign-ins fail by the hundred from one address.
        login_max_failures=1000,
    ) as base_url:
        token = httpx.post(
            f"{base_url}/api/v1/auth/token",
            data={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
        ).json()["access_token"]
        document = httpx.get(f"{base_url}/openapi.json").json()
        operations = sum(len(item) for item in document["paths"].values())
        config = SchemathesisConfig.from_dict(fuzz_config(token))
        schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=config)
        schema.config.update(base_url=base_url)
        failures, scenarios, seconds = _failures(from_schema(schema).execute())
    slowest = sorted(seconds.items(), key=lambda item: -item[1])[:16]
    print(dict(scenarios), [(name, round(spent, 1)) for name, spent in slowest])
    assert failures == [], "\n".join(failures)
    # Every phase went over every operation (the stateful one over chains of them).
    assert operations > 60
    for phase in ("examples", "coverage", "fuzzing"):
        assert scenarios[phase] == operations, (phase, scenarios)
    assert scenarios["stateful"] > 0
