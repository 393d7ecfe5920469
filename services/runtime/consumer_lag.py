"""How far consumer groups are behind: each group's committed offsets against the partitions'
end offsets, read from the broker.

Each service consumes in one group named `KAFKA_TOPIC_PREFIX` + service name (see
`EventConsumer.subscribe`). The lag of a partition is its end offset minus the group's committed
offset; a partition the group has never committed is not counted (it has no position to be
behind from, and the runtime consumes from the earliest offset once it joins).

The reads go through clients of their own (an admin client for the committed offsets, a
group-less consumer for the end offsets), never through the consumers that handle events: a
measurement costs two requests to the broker and nothing on the handling path. `LagGauge` makes
one every interval into the `consumer_lag` gauge. A service measures its own group; the gateway
measures every service's, since a consumer that is stopped or hung cannot report its own lag.
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.runtime.kafka_security import KafkaSecurity
from services.runtime.metrics import CONSUMER_LAG

log = logging.getLogger(__name__)

# Bound of one read's requests (a broker away makes the read fail, not hang).
LAG_READ_TIMEOUT_SECONDS = 10.0


def group_id(prefix: str, service: str) -> str:
    return f"{prefix}{service}"


@dataclass(frozen=True)
class PartitionOffsets:
    topic: str  # without the prefix
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(0, self.end - self.committed)


class LagReader:
    """Reads the lag of the services' groups; its two clients stay open between reads."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        prefix: str,
        client_id: str,
        timeout_seconds: float,
        security: KafkaSecurity | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.prefix = prefix
        self.client_id = client_id
        self.timeout_seconds = timeout_seconds
        self.security = security or KafkaSecurity()
        self._admin: AIOKafkaAdminClient | None = None
        self._ends: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        """Opens new clients (after a failed read too: they are not reused once closed)."""
        request_timeout_ms = int(self.timeout_seconds * 1000)
        options = self.security.client_options()
        common = {
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": self.client_id,
            "request_timeout_ms": request_timeout_ms,
            **options,
        }
        admin = AIOKafkaAdminClient(**common)
        ends = AIOKafkaConsumer(group_id=None, enable_auto_commit=False, **common)
        try:
            await admin.start()
            await ends.start()
        except BaseException:
            # Both are closed, started or not: a client made and never closed keeps its
            # sockets until the garbage collector finds it ("Unclosed AIOKafkaConsumer"), and
            # the gauge makes new ones every interval while the broker is away.
            with contextlib.suppress(Exception):
                await ends.stop()
            with contextlib.suppress(Exception):
                await admin.close()
            raise
        self._admin, self._ends = admin, ends

    async def stop(self) -> None:
        admin, ends = self._admin, self._ends
        self._admin = self._ends = None
        try:
            if ends is not None:
                await ends.stop()
        finally:
            if admin is not None:
                await admin.close()

    async def read(self, services: Sequence[str]) -> dict[str, list[PartitionOffsets]]:
        """Per service, its group's committed partitions ordered by topic and partition."""
        if self._admin is None or self._ends is None:
            raise RuntimeError("LagReader.read before start")
        admin, ends_reader = self._admin, self._ends
        committed = {
            service: await admin.list_consumer_group_offsets(group_id(self.prefix, service))
            for service in services
        }
        partitions = {tp for offsets in committed.values() for tp in offsets}
        ends: dict[TopicPartition, int] = (
            await ends_reader.end_offsets(list(partitions)) if partitions else {}
        )
        result: dict[str, list[PartitionOffsets]] = {}
        for service in services:
            rows = [
                PartitionOffsets(
                    topic=tp.topic.removeprefix(self.prefix),
                    partition=tp.partition,
                    committed=offset.offset,
                    end=ends.get(tp, offset.offset),
                )
                for tp, offset in committed[service].items()
                if offset.offset >= 0
            ]
            result[service] = sorted(rows, key=lambda row: (row.topic, row.partition))
        return result


class LagGauge:
    """Sets `consumer_lag{service, topic, partition}` for `services` every `interval_seconds`.

    A read that fails (the broker away) is logged and tried again next interval; the gauge
    keeps its last figures meanwhile, and Prometheus' own scrape of the broker tells the rest.
    """

    def __init__(
        self, reader: LagReader, services: Sequence[str], *, interval_seconds: float
    ) -> None:
        self.reader = reader
        self.services = tuple(services)
        self.interval_seconds = interval_seconds
        self._task: asyncio.Task[None] | None = None
        self._open = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="consumer-lag-gauge")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close()

    async def measure_once(self) -> None:
        """One read into the gauge; the reader is opened on first use and after a failure."""
        try:
            async with asyncio.timeout(self.reader.timeout_seconds * 2):
                if not self._open:
                    await self.reader.start()
                    self._open = True
                lags = await self.reader.read(self.services)
        except BaseException:
            await self._close()
            raise
        for service, rows in lags.items():
            for row in rows:
                CONSUMER_LAG.labels(service, row.topic, str(row.partition)).set(row.lag)

    async def _close(self) -> None:
        if self._open:
            self._open = False
            with contextlib.suppress(Exception):
                await self.reader.stop()

    async def _run(self) -> None:
        while True:
            try:
                await self.measure_once()
            except Exception as error:
                log.warning("consumer lag: cannot read it from the broker: %r", error)
            await asyncio.sleep(self.interval_seconds)
