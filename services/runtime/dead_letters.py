"""Reading and replaying the dead-letter topics, for the operator's bad day: list what was set
aside and why, and once the cause is fixed, send it back to the topic it came from.

A replay publishes each record not yet replayed to its source topic (the `x-dlq-source-topic`
header written by the consumer), with its key, value and headers as they were, and then commits
the dead-letter topic's end offsets for the consumer group `<prefix>dlq-replay`: that commit is
what "already replayed" means, so a repeated replay sends nothing twice. A replay that dies
between publishing and committing publishes those records again next time; the consumers' inbox
(keyed by event id) makes the second delivery a no-op. A record that fails again lands in the
dead-letter topic again, as a new record, pending once more.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata
from pydantic import BaseModel, ConfigDict, Field

from services.runtime.kafka_security import KafkaSecurity

REPLAY_GROUP = "dlq-replay"
SOURCE_TOPIC_HEADER = "x-dlq-source-topic"
DLQ_CONSUMER_HEADER = "x-dlq-consumer"
REPLAYED_FROM_HEADER = "x-replayed-from"
# A replayed record is for the one consumer group that dead-lettered it; the others skip it.
REPLAY_FOR_HEADER = "x-replay-for"
VALUE_EXCERPT_CHARS = 2000


class DeadLetter(BaseModel):
    """One record set aside: where it came from, why, and what it held."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "partition": 2,
                    "offset": 17,
                    "key": "6f1c2a4e-0b7d-4c1e-9a51-2f7d9c3b8e10",
                    "dead_lettered_at": "2026-12-01T10:15:00Z",
                    "reason": "schema: data.kind: Input should be 'stb', 'smart_tv' or 'mobile'",
                    "source_topic": "apps.events",
                    "source_partition": 2,
                    "source_offset": 4411,
                    "consumer": "activity",
                    "event_type": "device.connected.v1",
                    "event_id": "0b9e6f0e-6c1b-4a43-9d1e-5a2f3c4d5e6f",
                    "value": '{"specversion":"1.0","type":"device.connected.v1", ...}',
                    "replayed": False,
                }
            ]
        }
    )

    partition: int
    offset: int
    key: str | None
    dead_lettered_at: datetime
    reason: str | None = Field(description="Why the consumer set it aside (x-dlq-reason).")
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    consumer: str | None = Field(
        description="The service whose consumer set it aside; a replay is for it alone."
    )
    event_type: str | None = Field(description="The CloudEvent type, when the value parses.")
    event_id: str | None
    value: str = Field(description=f"The value as text, its first {VALUE_EXCERPT_CHARS} chars.")
    replayed: bool = Field(description="Already sent back to its source topic by a replay.")


class DeadLetterTopic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"topic": "apps.events.dlq", "total": 12, "pending": 3}]}
    )

    topic: str
    total: int = Field(description="Records in the dead-letter topic (within its retention).")
    pending: int = Field(description="Records not yet replayed.")


class ReplayResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "topic": "apps.events.dlq",
                    "replayed": 3,
                    "unroutable": 0,
                    "by_source": {"apps.events": 3},
                }
            ]
        }
    )

    topic: str
    replayed: int = Field(description="Records sent back to their source topic.")
    unroutable: int = Field(description="Records without a source topic header, skipped.")
    by_source: dict[str, int] = Field(description="Records replayed per source topic.")


def header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            text: str = bytes(value).decode("utf-8", "replace")
            return text
    return None


def _intheader(record: ConsumerRecord[bytes, bytes], name: str) -> int | None:
    text = header(record, name)
    return int(text) if text is not None and text.lstrip("-").isdigit() else None


def _describe(record: ConsumerRecord[bytes, bytes], replayed_below: int) -> DeadLetter:
    value = (record.value or b"").decode("utf-8", "replace")
    event_type = event_id = None
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        event_type = parsed.get("type") if isinstance(parsed.get("type"), str) else None
        event_id = parsed.get("id") if isinstance(parsed.get("id"), str) else None
    return DeadLetter(
        partition=record.partition,
        offset=record.offset,
        key=record.key.decode("utf-8", "replace") if record.key is not None else None,
        dead_lettered_at=datetime.fromtimestamp(record.timestamp / 1000, UTC),
        reason=header(record, "x-dlq-reason"),
        source_topic=header(record, SOURCE_TOPIC_HEADER),
        source_partition=_intheader(record, "x-dlq-source-partition"),
        source_offset=_intheader(record, "x-dlq-source-offset"),
        consumer=header(record, "x-dlq-consumer"),
        event_type=event_type,
        event_id=event_id,
        value=value[:VALUE_EXCERPT_CHARS],
        replayed=record.offset < replayed_below,
    )


@dataclass
class _Bounds:
    """A topic's partitions, and per partition its first offset, its first offset not yet
    replayed, and its end offset."""

    partitions: list[TopicPartition]
    starts: dict[TopicPartition, int]
    pending_from: dict[TopicPartition, int]
    ends: dict[TopicPartition, int]


class DeadLetterDesk:
    """The dead-letter topics of one system (one topic prefix) on one broker."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        prefix: str = "",
        timeout_seconds: float = 10.0,
        security: KafkaSecurity | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.security = security or KafkaSecurity()
        self.prefix = prefix
        self.request_timeout_ms = int(timeout_seconds * 1000)

    @property
    def replay_group(self) -> str:
        return f"{self.prefix}{REPLAY_GROUP}"

    def _consumer(self) -> AIOKafkaConsumer:
        # Assigned by hand, never subscribed: it reads and commits without joining the group,
        # so it cannot take partitions from anyone.
        return AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            **self.security.client_options(),
            group_id=self.replay_group,
            client_id="dlq-desk",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            request_timeout_ms=self.request_timeout_ms,
        )

    async def _partitions(self, topic: str) -> list[TopicPartition]:
        """The topic's partitions; none if it does not exist (nothing was ever dead-lettered)."""
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap_servers,
            **self.security.client_options(),
            client_id="dlq-desk",
            request_timeout_ms=self.request_timeout_ms,
        )
        await admin.start()
        try:
            [described] = await admin.describe_topics([topic])
        finally:
            await admin.close()
        if described["error_code"] != 0:
            return []
        return sorted(TopicPartition(topic, p["partition"]) for p in described["partitions"])

    async def _bounds(self, consumer: AIOKafkaConsumer, topic: str) -> _Bounds:
        partitions = await self._partitions(topic)
        if not partitions:
            return _Bounds([], {}, {}, {})
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        pending_from = {}
        for tp in partitions:
            committed = await consumer.committed(tp)
            pending_from[tp] = max(starts[tp], committed if committed is not None else 0)
        return _Bounds(partitions, starts, pending_from, ends)

    async def topics(self, names: Sequence[str]) -> list[DeadLetterTopic]:
        """Each dead-letter topic of `names` (source topics, unprefixed): totals and pending."""
        consumer = self._consumer()
        await consumer.start()
        try:
            result = []
            for name in names:
                topic = f"{self.prefix}{name}.dlq"
                b = await self._bounds(consumer, topic)
                result.append(
                    DeadLetterTopic(
                        topic=f"{name}.dlq",
                        total=sum(b.ends[tp] - b.starts[tp] for tp in b.partitions),
                        pending=sum(b.ends[tp] - b.pending_from[tp] for tp in b.partitions),
                    )
                )
            return result
        finally:
            await consumer.stop()

    async def read(
        self,
        name: str,
        *,
        after: Mapping[int, int] | None = None,
        limit: int = 50,
        pending_only: bool = False,
    ) -> tuple[list[DeadLetter], dict[int, int] | None]:
        """Up to `limit` records of `<name>.dlq` by partition and offset, from the positions in
        `after` (partition -> next offset); returns them and the positions to go on from (None
        at the end)."""
        topic = f"{self.prefix}{name}.dlq"
        consumer = self._consumer()
        await consumer.start()
        try:
            b = await self._bounds(consumer, topic)
            partitions, pending_from, ends = b.partitions, b.pending_from, b.ends
            items: list[DeadLetter] = []
            positions: dict[int, int] = {}
            for tp in partitions:
                first = pending_from[tp] if pending_only else b.starts[tp]
                position = max(first, (after or {}).get(tp.partition, first))
                positions[tp.partition] = position
                while position < ends[tp] and len(items) < limit:
                    consumer.seek(tp, position)
                    batch = await consumer.getmany(
                        tp, timeout_ms=self.request_timeout_ms, max_records=limit - len(items)
                    )
                    records = [r for r in batch.get(tp, []) if r.offset < ends[tp]]
                    if not records:
                        break
                    items += [_describe(r, pending_from[tp]) for r in records]
                    position = records[-1].offset + 1
                    positions[tp.partition] = position
            more = any(positions[tp.partition] < ends[tp] for tp in partitions)
            return items, positions if more else None
        finally:
            await consumer.stop()

    async def replay(self, name: str) -> ReplayResult:
        """Send every pending record of `<name>.dlq` back to its source topic, then mark them
        replayed (see the module docstring for what a crash in between does)."""
        topic = f"{self.prefix}{name}.dlq"
        consumer = self._consumer()
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            **self.security.client_options(),
            client_id="dlq-desk",
            enable_idempotence=True,
            acks="all",
            request_timeout_ms=self.request_timeout_ms,
        )
        await consumer.start()
        await producer.start()
        result = ReplayResult(topic=f"{name}.dlq", replayed=0, unroutable=0, by_source={})
        try:
            b = await self._bounds(consumer, topic)
            partitions, pending_from, ends = b.partitions, b.pending_from, b.ends
            done: dict[TopicPartition, OffsetAndMetadata] = {}
            for tp in partitions:
                position = pending_from[tp]
                while position < ends[tp]:
                    consumer.seek(tp, position)
                    batch = await consumer.getmany(tp, timeout_ms=self.request_timeout_ms)
                    records = [r for r in batch.get(tp, []) if r.offset < ends[tp]]
                    if not records:
                        break
                    sends = []
                    for record in records:
                        source = header(record, SOURCE_TOPIC_HEADER)
                        if not source:
                            result.unroutable += 1
                            continue
                        headers = [
                            (k, v)
                            for k, v in record.headers or ()
                            if not k.startswith("x-dlq-") and k != REPLAY_FOR_HEADER
                        ]
                        origin = f"{topic}/{tp.partition}/{record.offset}"
                        headers.append((REPLAYED_FROM_HEADER, origin.encode()))
                        consumer_name = header(record, DLQ_CONSUMER_HEADER)
                        if consumer_name:
                            headers.append((REPLAY_FOR_HEADER, consumer_name.encode()))
                        sends.append(
                            await producer.send(
                                source, value=record.value, key=record.key, headers=headers
                            )
                        )
                        name_of_source = source.removeprefix(self.prefix)
                        result.by_source[name_of_source] = (
                            result.by_source.get(name_of_source, 0) + 1
                        )
                    for sent in sends:
                        await sent
                    result.replayed += len(sends)
                    position = records[-1].offset + 1
                done[tp] = OffsetAndMetadata(position, "")
            if done:
                await consumer.commit(done)
            return result
        finally:
            await producer.stop()
            await consumer.stop()
