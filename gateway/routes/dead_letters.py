"""The dead-letter topics (admin): what was set aside and why, and a replay once the cause is
fixed (services/runtime/dead_letters.py says what a replay guarantees)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import Field, NonNegativeInt

from gateway.audit import AuditDep
from gateway.deps import SettingsDep
from gateway.identity.auth import CanManageDeadLetters
from gateway.routes.prefix import API_PREFIX
from gateway.schemas.common import AUTH_ERRORS, Page, problem_responses
from gateway.settings import GatewaySettings
from services.runtime.dead_letters import (
    DeadLetter,
    DeadLetterDesk,
    DeadLetterTopic,
    ReplayResult,
)
from services.runtime.paging import Cursor, Keyset, Limit
from services.runtime.problems import Problem

router = APIRouter(prefix=f"{API_PREFIX}/dead-letters", tags=["dead letters"])

# The topics whose consumers dead-letter (unprefixed); each has `<topic>.dlq`.
SourceTopic = Literal[
    "customers.events",
    "billing.events",
    "tickets.events",
    "activity.events",
    "webshop.orders",
    "webshop.replies",
    "apps.events",
    "apps.commands",
]
SOURCE_TOPICS: tuple[str, ...] = SourceTopic.__args__  # type: ignore[attr-defined]
TopicParam = Annotated[SourceTopic, Path(description="The source topic, e.g. apps.events.")]


def _desk(settings: GatewaySettings) -> DeadLetterDesk:
    return DeadLetterDesk(
        settings.kafka_bootstrap_servers,
        prefix=settings.kafka_topic_prefix,
        timeout_seconds=settings.kafka_timeout_seconds,
        security=settings.kafka_security,
    )


def _unavailable(error: Exception) -> Problem:
    return Problem(503, "Kafka unavailable", f"the broker did not answer: {type(error).__name__}")


Offset = Annotated[int, Field(ge=0, le=2**62)]
# The next offset of each partition read so far: (partition, offset) pairs, partition order.
# Six partitions (contracts.topics.PARTITIONS) take about 200 of the cursor's 1,200 characters.
POSITIONS = Keyset("gateway.dead_letters", tuple[tuple[NonNegativeInt, Offset], ...])


@router.get(
    "", response_model=Page[DeadLetterTopic], responses=problem_responses(*AUTH_ERRORS, 503)
)
async def list_dead_letter_topics(
    _: CanManageDeadLetters, settings: SettingsDep
) -> Page[DeadLetterTopic]:
    """Every dead-letter topic with its record count and how many are not yet replayed."""
    try:
        topics = await _desk(settings).topics(SOURCE_TOPICS)
    except Exception as error:
        raise _unavailable(error) from error
    return Page[DeadLetterTopic](items=topics)


@router.get(
    "/{topic}",
    response_model=Page[DeadLetter],
    responses=problem_responses(*AUTH_ERRORS, 422, 503),
)
async def list_dead_letters(
    topic: TopicParam,
    _: CanManageDeadLetters,
    settings: SettingsDep,
    pending: Annotated[bool, Query(description="Only records not yet replayed.")] = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DeadLetter]:
    """The records of `<topic>.dlq` by partition and offset: the reason, where each came
    from, the event's type and id when it parses, and whether a replay has sent it back."""
    after = dict(POSITIONS.decode(cursor)) if cursor else None
    try:
        items, positions = await _desk(settings).read(
            topic, after=after, limit=limit, pending_only=pending
        )
    except Exception as error:
        raise _unavailable(error) from error
    return Page[DeadLetter](
        items=items,
        next_cursor=POSITIONS.encode(tuple(sorted(positions.items()))) if positions else None,
    )


@router.post(
    "/{topic}/replay",
    response_model=ReplayResult,
    responses=problem_responses(*AUTH_ERRORS, 422, 503),
)
async def replay_dead_letters(
    topic: TopicParam, _: CanManageDeadLetters, settings: SettingsDep, audit: AuditDep
) -> ReplayResult:
    """Send every record of `<topic>.dlq` not yet replayed back to the topic it came from.

    Repeating it sends nothing twice (replayed records are marked by a committed offset); the
    consumers skip an event they already handled. A record that fails again is dead-lettered
    again and shows as pending.
    """
    async with audit.record("dead_letters.replay") as entry:
        try:
            result = await _desk(settings).replay(topic)
        except Exception as error:
            raise _unavailable(error) from error
        entry.after = result.model_dump(mode="json")
        entry.status_code = 200
    return result
