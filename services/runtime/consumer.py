"""Idempotent, at-least-once consumption of CloudEvents from Kafka.

For every record: parse the envelope and the payload (a record that cannot be parsed goes to the
topic's `.dlq` with the reason in headers); skip it if its event id is in the inbox; else run the
handler and record the id in the same transaction. Transient failures (database or broker away)
are retried with backoff for as long as it takes; the offset is committed only after the effect.

A handler takes one event (`on`), or a partition's run of events together (`on_batch`): then a
poll's records cost one inbox statement, the handler's set-based statements and one commit.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.message import StreamMessage
from opentelemetry.trace import Span
from pydantic import ValidationError
from sqlalchemy import Table, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.envelope import CloudEvent, EventData
from services.contracts.registry import EVENT_TYPES
from services.contracts.topics import dlq
from services.runtime.db import Database, dialect_insert, utcnow
from services.runtime.dead_letters import DLQ_CONSUMER_HEADER, REPLAY_FOR_HEADER, header
from services.runtime.metrics import (
    EVENT_HANDLING_SECONDS,
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
)
from services.runtime.producer import Producer
from services.runtime.tracing import consuming, consuming_batch, event_span, within
from services.runtime.transient import is_transient

log = logging.getLogger(__name__)

# How long a batch poll waits for records. FastStream sleeps as long again after a poll that
# found none, deaf to what arrives meanwhile: at its default (200 ms) each consumer hop of a
# chain (order -> customers -> billing -> customers -> reply) added up to 200 ms. A poll returns
# as soon as records are there, so a short one costs only the idle wake-ups (~20 a second).
BATCH_POLL_MS = 25


@dataclass(frozen=True)
class Delivery:
    """What a handler gets: the open transaction, the envelope and its typed payload."""

    session: AsyncSession
    event: CloudEvent
    topic: str


Handler = Callable[[Delivery, Any], Awaitable[None]]
# Runs, in the same transaction and inbox as a handler, for a record whose envelope parsed but
# whose payload violates its schema (after it went to the dead-letter topic): the reason is the
# one in the dead-letter headers. For a sender that waits on an answer either way.
InvalidHandler = Callable[[Delivery, str], Awaitable[None]]


@dataclass(frozen=True)
class Incoming:
    """One event of a batch: its envelope and typed payload."""

    event: CloudEvent
    data: EventData
    topic: str = ""
    # The event's span, which the runtime opens for every event of a run and ends with it.
    span: Span | None = field(default=None, compare=False)

    def traced(self) -> AbstractContextManager[Span]:
        """The event's span made current: a batch handler opens it around its work on the
        event, so that what it publishes continues the event's trace (one order is one trace
        across the services; the batch's own span is a trace apart)."""
        if self.span is not None:
            return within(self.span)
        return consuming(self.topic, self.event.type, self.event.id, self.event.traceparent)


# The context a batch function opens around its work on the i-th event (Incoming.traced).
Traced = Callable[[int], AbstractContextManager[object]]


def untraced(_: int) -> AbstractContextManager[object]:
    return nullcontext()


def traced_each(items: Sequence[Incoming]) -> Traced:
    """The `Traced` of a run of events: the i-th event's span around the work on it."""
    return lambda index: items[index].traced()


# Takes the open transaction and a partition's new events (duplicates already dropped) in the
# order they arrived; it applies them set-based and must keep each key's order.
BatchHandler = Callable[[AsyncSession, Sequence[Incoming]], Awaitable[None]]


@dataclass(frozen=True)
class Routed:
    """A parsed record and the handler it goes to."""

    topic: str
    record: "ConsumerRecord[bytes, bytes]"
    event: CloudEvent
    data: EventData | None
    handler: Handler | None
    batch_handler: BatchHandler | None = None
    # What the metrics count it as once the handler ran.
    outcome: str = "handled"

    @property
    def inbox_key(self) -> str:
        # CloudEvents makes (source, id) unique, not id alone.
        return f"{self.event.source}#{self.event.id}"


class PoisonMessage(Exception):
    """A record that can never be processed: it goes to the dead-letter topic with this reason."""


class EventConsumer:
    """Routes the records of the subscribed topics to handlers by CloudEvents type."""

    def __init__(
        self,
        *,
        service: str,
        db: Database,
        inbox: Table,
        producer: Producer,
        after_commit: Callable[[], None] = lambda: None,
        max_attempts: int = 5,
        max_backoff_seconds: float = 5.0,
        topic_prefix: str = "",
    ) -> None:
        self.service = service
        self.db = db
        self.inbox = inbox
        self.producer = producer
        self.after_commit = after_commit
        self.max_attempts = max_attempts
        self.max_backoff = max_backoff_seconds
        # Handlers are registered under the system's topic names; on the broker every topic,
        # dead-letter topic and the group carry the deployment's prefix.
        self.topic_prefix = topic_prefix
        self.handlers: dict[str, dict[str, tuple[type[EventData], Handler | BatchHandler]]] = {}
        self._batched: set[BatchHandler] = set()
        self.invalid_handlers: dict[tuple[str, str], InvalidHandler] = {}

    def on(
        self, topic: str, model: type[EventData], *, invalid: InvalidHandler | None = None
    ) -> Callable[[Handler], Handler]:
        """Register a handler for events of `model`'s type arriving on `topic`, and optionally
        `invalid` for those of that type whose payload violates the schema."""

        def register(handler: Handler) -> Handler:
            self.handlers.setdefault(topic, {})[model.event_type] = (model, handler)
            if invalid is not None:
                self.invalid_handlers[(topic, model.event_type)] = invalid
            return handler

        return register

    def on_batch(
        self, topic: str, *models: type[EventData], invalid: InvalidHandler | None = None
    ) -> Callable[[BatchHandler], BatchHandler]:
        """Register one handler for all of `models` on `topic` that takes them together: each
        run of consecutive records of these types in a partition's poll, in arrival order;
        optionally `invalid` (per event) for those whose payload violates the schema.

        Where the set-based apply fails, the run is redone in halves, down to a batch of one,
        so a poison record goes to the dead-letter topic alone and its neighbours stay batched.
        """

        def register(handler: BatchHandler) -> BatchHandler:
            self._batched.add(handler)
            for model in models:
                self.handlers.setdefault(topic, {})[model.event_type] = (model, handler)
                if invalid is not None:
                    self.invalid_handlers[(topic, model.event_type)] = invalid
            return handler

        return register

    def subscribe(self, broker: KafkaBroker, *, workers: int = 1, batch_size: int = 1) -> None:
        """Attach the handlers to the broker.

        With `batch_size` > 1, one consumer in the service's group reads all its topics and
        hands over up to that many records per poll (`process_batch`). Else each record is
        handled alone: with one worker by a single consumer for all topics; with more, each
        topic gets `workers` consumers in the group, so partitions run in parallel, each in
        order, its offsets committed by the consumer that read it.
        """
        if not self.handlers:
            return
        for topic in self.handlers:
            # On /metrics from the start, at 0: a rate sees the very first dead letters (a
            # counter that first appears at 1 shows no increase).
            EVENTS_DEAD_LETTERED.labels(self.service, topic)
        common: dict[str, Any] = {
            "group_id": f"{self.topic_prefix}{self.service}",
            # Commit only after the handler returned: FastStream's default commits first.
            "ack_policy": AckPolicy.NACK_ON_ERROR,
            "auto_offset_reset": "earliest",
            # Outside producers (webshops, apps) may write in Kafka transactions: what they
            # aborted must never be handled.
            "isolation_level": "read_committed",
            # The raw bytes reach us untouched: parsing is ours, so that a record that does
            # not parse goes to the dead-letter topic instead of failing forever.
            "decoder": _raw_body,
        }
        if batch_size > 1:
            all_topics = tuple(self.handlers)
            subscriber = broker.subscriber(
                *self._on_broker(all_topics),
                batch=True,
                max_records=batch_size,
                batch_timeout_ms=BATCH_POLL_MS,
                title=f"{self.service}:{'+'.join(all_topics)}",
                description=self._describe(all_topics),
                **common,
            )

            async def consume_batch(msg: KafkaMessage) -> None:
                records: tuple[ConsumerRecord[bytes, bytes], ...] = msg.raw_message
                await self._redelivered_on_failure(self.process_batch(records))

            subscriber(consume_batch)
            return
        groups = [tuple(self.handlers)] if workers <= 1 else [(t,) for t in self.handlers]
        for group in groups:
            subscriber = broker.subscriber(
                *self._on_broker(group),
                max_workers=max(workers, 1),
                title=f"{self.service}:{'+'.join(group)}",
                description=self._describe(group),
                **common,
            )

            async def consume(msg: KafkaMessage) -> None:
                record: ConsumerRecord[bytes, bytes] = msg.raw_message
                topic = record.topic.removeprefix(self.topic_prefix)
                await self._redelivered_on_failure(self.process(topic, record))

            subscriber(consume)

    def _on_broker(self, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(f"{self.topic_prefix}{name}" for name in names)

    def _describe(self, group: tuple[str, ...]) -> str:
        return "Handles: " + ", ".join(f"{t}: {', '.join(self.handlers[t])}" for t in group)

    async def _redelivered_on_failure(self, work: Awaitable[object]) -> None:
        try:
            await work
        except Exception:
            # Only a dead-letter publish can fail here (Kafka away): nothing is committed, the
            # records come again, and the pause keeps that from spinning.
            log.exception("could not finish a delivery; it will be redelivered")
            await asyncio.sleep(1.0)
            raise

    async def process(self, topic: str, record: "ConsumerRecord[bytes, bytes]") -> str:
        """Handle one record; returns the outcome (handled, duplicate, ignored, dead_lettered)."""
        with EVENT_HANDLING_SECONDS.labels(self.service, topic).time():
            outcome = await self._process(topic, record)
        EVENTS_CONSUMED.labels(self.service, topic, outcome).inc()
        return outcome

    async def process_batch(self, records: "Sequence[ConsumerRecord[bytes, bytes]]") -> None:
        """Handle what one poll returned: each partition's records in order, in one transaction
        per partition (one inbox query, one commit), partitions side by side where the database
        takes concurrent writers. A failing batch is redone in halves down to the failing
        record, which gets the retries and dead-lettering of `process`."""
        partitions: dict[tuple[str, int], list[ConsumerRecord[bytes, bytes]]] = {}
        for record in records:
            topic = record.topic.removeprefix(self.topic_prefix)
            partitions.setdefault((topic, record.partition), []).append(record)
        if self.db.dialect == "sqlite":
            # One writer at a time: concurrent transactions would only queue on the lock.
            for (topic, _), batch in partitions.items():
                await self._process_partition(topic, batch)
        else:
            await asyncio.gather(
                *(self._process_partition(t, b) for (t, _), b in partitions.items())
            )

    async def _process_partition(
        self, topic: str, records: "list[ConsumerRecord[bytes, bytes]]"
    ) -> None:
        started = time.perf_counter()
        routed: list[Routed] = []
        for record in records:
            outcome, item = await self._route(topic, record)
            if item is None:
                EVENTS_CONSUMED.labels(self.service, topic, outcome).inc()
            else:
                routed.append(item)
        if not routed:
            return
        outcomes = await self._handle_in_parts(routed)
        share = (time.perf_counter() - started) / len(records)
        for outcome in outcomes:
            EVENTS_CONSUMED.labels(self.service, topic, outcome).inc()
            EVENT_HANDLING_SECONDS.labels(self.service, topic).observe(share)

    async def _handle_in_parts(self, routed: "list[Routed]") -> list[str]:
        """All together; if that fails on a record (a rule refused it, a bug), each half in
        turn, so a poison record ends up alone, with its retries and dead letter, while its
        neighbours stay batched. A transient failure is retried record by record instead."""
        try:
            return await self._handle_together(routed)
        except Exception as error:
            if is_transient(error):
                log.info("batch of %d failed (%r); handling them one by one", len(routed), error)
            elif len(routed) > 1:
                log.info("batch of %d failed (%r); handling it in halves", len(routed), error)
                half = len(routed) // 2
                return [
                    *await self._handle_in_parts(routed[:half]),
                    *await self._handle_in_parts(routed[half:]),
                ]
        return [await self._handle_with_retries(item) for item in routed]

    async def _handle_together(self, routed: "list[Routed]") -> list[str]:
        outcomes = []
        async with self.db.transaction() as session:
            new = await self._record_in_inbox(session, routed)
            # Consecutive events for one batch handler go to it together; a per-event handler
            # in between ends the run, so the partition's order holds across both kinds.
            run: list[Routed] = []
            for item in routed:
                if item.inbox_key not in new:
                    outcomes.append("duplicate")
                    continue
                new.discard(item.inbox_key)  # the same event twice in one poll: once
                outcomes.append(item.outcome)
                if run and item.batch_handler is not run[0].batch_handler:
                    await self._run_batch(session, run)
                    run = []
                if item.batch_handler is not None:
                    run.append(item)
                else:
                    assert item.handler is not None
                    event = item.event
                    with consuming(item.topic, event.type, event.id, event.traceparent):
                        await item.handler(
                            Delivery(session=session, event=event, topic=item.topic), item.data
                        )
            if run:
                await self._run_batch(session, run)
        # Nothing new was written when all were duplicates.
        if any(o != "duplicate" for o in outcomes):
            self.after_commit()
        return outcomes

    async def _record_in_inbox(self, session: AsyncSession, routed: "list[Routed]") -> set[str]:
        """Insert the batch's event ids into the inbox in one statement; returns those that
        were not there yet (the rest were handled before: duplicates)."""
        rows = {
            item.inbox_key: {"event_id": item.inbox_key, "topic": item.topic} for item in routed
        }
        now = utcnow()
        statement = (
            dialect_insert(session)(self.inbox)
            .on_conflict_do_nothing(index_elements=[self.inbox.c.event_id])
            .returning(self.inbox.c.event_id)
        )
        # Parameters as a list: SQLAlchemy sends them as one multi-row INSERT from a statement
        # compiled once (a .values() list would compile anew for every batch length).
        parameters = [{**row, "processed_at": now} for row in rows.values()]
        return set((await session.scalars(statement, parameters)).all())

    @staticmethod
    async def _run_batch(session: AsyncSession, run: "list[Routed]") -> None:
        handler = run[0].batch_handler
        assert handler is not None
        with consuming_batch(run[0].topic, [item.event.traceparent for item in run]):
            # Every event gets its span in its own trace, whether or not the handler works on
            # it alone: each service an order reaches shows in that order's trace.
            events = []
            for item in run:
                # Parsed, always: a schema-invalid record is answered by a per-event `invalid`.
                assert item.data is not None
                span = event_span(
                    item.topic, item.event.type, item.event.id, item.event.traceparent
                )
                events.append(Incoming(item.event, item.data, item.topic, span))
            try:
                await handler(session, events)
            finally:
                for incoming in events:
                    assert incoming.span is not None
                    incoming.span.end()

    async def _route(
        self, topic: str, record: "ConsumerRecord[bytes, bytes]"
    ) -> "tuple[str, None] | tuple[None, Routed]":
        """Parse a record: an outcome when it needs no handler (dead-lettered, ignored), else
        what to run."""
        replay_for = header(record, REPLAY_FOR_HEADER)
        if replay_for is not None and replay_for != self.service:
            # A dead letter replayed for the one consumer that set it aside; the others have
            # handled (or dead-lettered) it already.
            return "ignored", None
        if _unhandled_known_type(record.value, self.handlers.get(topic, {})):
            return "ignored", None
        try:
            event = CloudEvent.model_validate_json(record.value or b"")
        except ValidationError as error:
            await self.dead_letter(topic, record, f"invalid CloudEvent envelope: {_brief(error)}")
            return "dead_lettered", None
        route = self.handlers.get(topic, {}).get(event.type)
        if route is None:
            if event.type not in EVENT_TYPES:
                await self.dead_letter(topic, record, f"unknown event type {event.type!r}")
                return "dead_lettered", None
            return "ignored", None
        model, handler = route
        try:
            data = model.model_validate(event.data)
        except ValidationError as error:
            reason = f"{event.type} violates its schema: {_brief(error)}"
            await self.dead_letter(topic, record, reason)
            invalid = self.invalid_handlers.get((topic, event.type))
            if invalid is None:
                return "dead_lettered", None

            async def answer(delivery: Delivery, _: object) -> None:
                await invalid(delivery, reason)

            return None, Routed(topic, record, event, None, answer, outcome="dead_lettered")
        if handler in self._batched:
            return None, Routed(topic, record, event, data, None, handler)
        return None, Routed(topic, record, event, data, cast(Handler, handler))

    async def _process(self, topic: str, record: "ConsumerRecord[bytes, bytes]") -> str:
        outcome, routed = await self._route(topic, record)
        if routed is None:
            assert outcome is not None
            return outcome
        return await self._handle_with_retries(routed)

    async def _handle_with_retries(self, routed: "Routed") -> str:
        topic, record, event = routed.topic, routed.record, routed.event
        attempt = 0
        delay = 0.1
        while True:
            attempt += 1
            try:
                return await self._handle_once(routed)
            except PoisonMessage as error:
                await self.dead_letter(topic, record, str(error))
                return "dead_lettered"
            except Exception as error:
                if is_transient(error) or not await self._database_answers():
                    # Never skip a message because the database blinked (or is away, whatever
                    # the handler made of that): wait and try again, for as long as it takes.
                    # The attempts count only failures with the database up.
                    attempt -= 1
                    log.warning(
                        "transient failure on %s %s: %r; retrying in %.1fs",
                        topic,
                        event.id,
                        error,
                        delay,
                    )
                elif attempt >= self.max_attempts:
                    log.exception("giving up on %s %s after %d attempts", topic, event.id, attempt)
                    await self.dead_letter(
                        topic, record, f"handler failed {attempt} times: {error!r}"[:900]
                    )
                    return "dead_lettered"
                else:
                    log.warning(
                        "handler failed on %s %s (attempt %d): %r", topic, event.id, attempt, error
                    )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff)

    async def _database_answers(self) -> bool:
        """Whether the database takes a query now: a failure while it does not says nothing
        about the record."""
        try:
            async with asyncio.timeout(5.0), self.db.sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def _handle_once(self, routed: Routed) -> str:
        try:
            [outcome] = await self._handle_together([routed])
        except IntegrityError:
            # A concurrent delivery of the same event committed first: it is a duplicate now.
            async with self.db.transaction() as session:
                seen = await session.scalar(
                    select(self.inbox.c.event_id).where(self.inbox.c.event_id == routed.inbox_key)
                )
            if seen is not None:
                return "duplicate"
            raise
        return outcome

    async def dead_letter(
        self, topic: str, record: "ConsumerRecord[bytes, bytes]", reason: str
    ) -> None:
        """Copy the record as it was to `<topic>.dlq`, with where it came from and why (the
        source topic as named on the broker: the dead-letter desk sends replays there)."""
        log.warning("dead-lettering %s[%d]@%d: %s", topic, record.partition, record.offset, reason)
        await self.dead_letter_value(
            topic,
            value=record.value,
            key=record.key,
            reason=reason,
            headers=[
                *list(record.headers or ()),
                ("x-dlq-source-partition", str(record.partition).encode()),
                ("x-dlq-source-offset", str(record.offset).encode()),
            ],
        )

    async def dead_letter_value(
        self,
        topic: str,
        *,
        value: bytes | None,
        key: bytes | None,
        reason: str,
        headers: "Sequence[tuple[str, bytes]]" = (),
    ) -> None:
        """Put `value` on `<topic>.dlq` with the reason: also for what a handler kept aside and
        later finds it cannot apply (billing's parked refunds), which is no record of its own."""
        await self.producer.send_and_wait(
            f"{self.topic_prefix}{dlq(topic)}",
            value=value,
            key=key,
            headers=[
                *headers,
                ("x-dlq-reason", reason.encode()),
                ("x-dlq-source-topic", f"{self.topic_prefix}{topic}".encode()),
                (DLQ_CONSUMER_HEADER, self.service.encode()),
            ],
        )
        EVENTS_DEAD_LETTERED.labels(self.service, topic).inc()


def _unhandled_known_type(value: bytes | None, handled: "dict[str, Any]") -> bool:
    """Whether the record is a known event type this consumer has no handler for, judged from a
    plain JSON parse: a service reads most of a shared topic only to skip it (a renewal puts
    order_placed and transaction.recorded beside the one event tickets or activity want), and
    the envelope's and payload's validation cost more than the rest of the skip. Anything this
    cannot tell (not JSON, no type, an unknown type) takes the full path and its dead letters."""
    try:
        document = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return False
    kind = document.get("type") if isinstance(document, dict) else None
    return isinstance(kind, str) and kind not in handled and kind in EVENT_TYPES


async def _raw_body(message: StreamMessage[Any]) -> bytes:
    return message.body


def _brief(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "(root)"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)
