"""The campaign's fault schedule, drawn from the seed before anything runs (and written to the
run directory), so a run can be repeated fault for fault.

Two lanes run side by side. The *small* lane SIGKILLs a random replica (a service's or a
gateway's) every few seconds, or the relay of one between the broker's acknowledgement and the
outbox being marked, each at its time (a replica still down is skipped); the *big* lane, one
fault at a time, spreads the rest over the campaign: brokers SIGKILLed and SIGSTOPped (some
the leader of a busy partition), PostgreSQL stopped immediately, a consumer group scaled
1 -> 3 -> 1, floods of poison records.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from deploy.local.cluster import REPLICAS
from deploy.local.processes import SERVICES
from services.contracts.topics import PARTITIONS

# Nothing is injected in the first seconds (the workload gets going) nor in the last ones.
WARMUP_SECONDS: Final = 10.0
TAIL_SECONDS: Final = 5.0
# Services whose outbox is busy under the workload: a relay kill there hits rows in flight.
RELAY_SERVICES: Final = ("customers", "billing")
POSTGRES_DOWN_SECONDS: Final = 10.0


@dataclass(frozen=True)
class Fault:
    at: float  # seconds after the workload started
    kind: str  # kill_process | kill_relay | broker_kill | broker_pause | postgres_stop | ...
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Schedule:
    small: list[Fault]
    big: list[Fault]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for fault in (*self.small, *self.big):
            counts[fault.kind] = counts.get(fault.kind, 0) + 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "small": [f.to_json() for f in self.small],
            "big": [f.to_json() for f in self.big],
        }


def _big_faults(rng: random.Random, short: bool) -> list[tuple[str, dict[str, Any]]]:
    def leader() -> dict[str, Any]:
        return {"partition": rng.randrange(PARTITIONS), "down": round(rng.uniform(6, 12), 1)}

    def any_broker() -> dict[str, Any]:
        return {"node_id": rng.randint(1, 3), "down": round(rng.uniform(6, 12), 1)}

    if short:
        return [
            ("broker_kill", leader()),
            ("postgres_stop", {"down": POSTGRES_DOWN_SECONDS}),
            ("poison", {"per_kind": 3}),
        ]
    faults: list[tuple[str, dict[str, Any]]] = [
        # Five broker faults, three of them on the leader of a busy partition.
        ("broker_kill", leader()),
        ("broker_kill", any_broker()),
        ("broker_pause", leader()),
        ("broker_pause", any_broker()),
        ("broker_kill", leader()),
        ("postgres_stop", {"down": POSTGRES_DOWN_SECONDS}),
        ("scale_group", {"service": rng.choice(SERVICES), "hold": 12.0}),
        ("poison", {"per_kind": 10}),
        ("poison", {"per_kind": 10}),
    ]
    rng.shuffle(faults)
    return faults


def plan(seed: int, duration: float, *, short: bool = False) -> Schedule:
    """The faults of a campaign of `duration` seconds; `short` is the CI's: fewer, one of each
    cheap kind (a replica and a relay killed, a broker killed, PostgreSQL stopped, poison)."""
    rng = random.Random(seed)
    end = duration - TAIL_SECONDS
    every = 15.0 if short else 8.0
    targets = [f"{name}-{r}" for name in (*SERVICES, "gateway") for r in REPLICAS]
    small: list[Fault] = []
    at = WARMUP_SECONDS
    relay_kills = 0
    while at < end:
        # In a short campaign the second small fault is the relay kill, so there is one.
        relay = (short and len(small) == 1) or (not short and rng.random() < 0.25)
        if relay:
            relay_kills += 1
            small.append(Fault(round(at, 1), "kill_relay", {"service": rng.choice(RELAY_SERVICES)}))
        else:
            params = {"target": rng.choice(targets), "pause": round(rng.uniform(1.0, 4.0), 1)}
            small.append(Fault(round(at, 1), "kill_process", params))
        at += rng.uniform(0.5 * every, 1.5 * every)
    big_faults = _big_faults(rng, short)
    slot = (end - WARMUP_SECONDS) / len(big_faults)
    big = [
        Fault(round(WARMUP_SECONDS + number * slot + rng.uniform(0, 0.3 * slot), 1), kind, params)
        for number, (kind, params) in enumerate(big_faults)
    ]
    return Schedule(small, big)
