"""The one Kafka producer of a process: idempotent, acks from all replicas, ordered per key."""

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata

from services.runtime.kafka_security import KafkaSecurity

Headers = Sequence[tuple[str, bytes]]


class Producer:
    """Created before the event loop runs; the aiokafka producer itself is made in `start()`."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str,
        security: KafkaSecurity | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.security = security or KafkaSecurity()
        self.client_id = client_id
        self._producer: AIOKafkaProducer | None = None

    @property
    def kafka(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("producer not started")
        return self._producer

    async def start(self) -> None:
        # aiokafka's default producer is not idempotent: a retried batch could be written twice
        # or reordered. With idempotence on, the broker drops duplicates and keeps order.
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=self.client_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            request_timeout_ms=30000,
            **self.security.client_options(),
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def send(
        self, topic: str, *, value: bytes | None, key: bytes | None, headers: Headers = ()
    ) -> "asyncio.Future[RecordMetadata]":
        """Append to the batch in call order; the returned future resolves on delivery."""
        future: asyncio.Future[RecordMetadata] = await self.kafka.send(
            topic, value=value, key=key, headers=list(headers)
        )
        return future

    async def send_and_wait(
        self, topic: str, *, value: bytes | None, key: bytes | None, headers: Headers = ()
    ) -> RecordMetadata:
        return await (await self.send(topic, value=value, key=key, headers=headers))
