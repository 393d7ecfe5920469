"""The campaign's own Kafka clients (the webshop, the apps, the poisoner, the checker): where
they connect and as whom. On the local cluster that is its admin user (SASL/SCRAM, the
brokers deny what no ACL allows), as for any test's or tool's clients."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient


@dataclass(frozen=True)
class KafkaClients:
    bootstrap_servers: str
    # aiokafka's keywords for the credentials (`LocalCluster.kafka_client_options`).
    options: Mapping[str, Any] = field(default_factory=dict)

    def producer(self) -> AIOKafkaProducer:
        """What a careful webshop or app backend uses: idempotent, every in-sync replica acks."""
        return AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=30_000,
            **self.options,
        )

    def reader(self, **settings: Any) -> AIOKafkaConsumer:
        """A consumer outside any group that reads only what was committed."""
        return AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
            **settings,
            **self.options,
        )

    def admin(self) -> AIOKafkaAdminClient:
        return AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap_servers, request_timeout_ms=10_000, **self.options
        )
