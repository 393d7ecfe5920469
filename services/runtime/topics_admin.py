"""Creates the declared topics (services/contracts/topics.py) if they do not exist yet."""

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from services.contracts.topics import ALL_TOPICS, PARTITIONS
from services.runtime.kafka_security import KafkaSecurity

log = logging.getLogger(__name__)


def topic_configs(replication_factor: int) -> dict[str, str]:
    """Settings of a new topic: from three replicas on, a write counts once two hold it
    (with the producers' acks=all), so one broker may go without losing an acknowledged write
    or refusing new ones; set on the topic so it holds whatever the brokers' default is."""
    return {"min.insync.replicas": "2"} if replication_factor >= 3 else {}


class TopicCreationError(RuntimeError):
    """The broker refused to create some topics (e.g. more replicas asked than it has brokers)."""


async def ensure_topics(
    bootstrap_servers: str,
    topics: tuple[str, ...] = ALL_TOPICS,
    partitions: int = PARTITIONS,
    replication_factor: int = 1,
    security: KafkaSecurity | None = None,
) -> None:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="topic-admin",
        **(security or KafkaSecurity()).client_options(),
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if not missing:
            return
        response = await admin.create_topics(
            [
                NewTopic(
                    t,
                    num_partitions=partitions,
                    replication_factor=replication_factor,
                    topic_configs=topic_configs(replication_factor),
                )
                for t in missing
            ]
        )
        # Errors come back per topic in the response, not raised. A topic that another service
        # created at the same moment is fine, since all that matters is that it exists; any
        # other error (a replication factor above the number of brokers) would otherwise leave
        # the service running without its topics, so it stops the start.
        refused: dict[str, str] = {}
        for topic, code, *message in response.topic_errors:
            if code in (0, TopicAlreadyExistsError.errno):
                continue
            refused[topic] = f"{for_code(code).__name__}: {message[0] if message else ''}"
        if refused:
            details = "; ".join(f"{topic}: {reason}" for topic, reason in sorted(refused.items()))
            raise TopicCreationError(
                f"could not create topics with replication factor {replication_factor}: {details}"
            )
        log.info("created topics %s", ", ".join(missing))
    finally:
        await admin.close()
