"""Creates the declared topics (services/contracts/topics.py) if they do not exist yet."""

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from services.contracts.topics import ALL_TOPICS, PARTITIONS

log = logging.getLogger(__name__)


async def ensure_topics(
    bootstrap_servers: str,
    topics: tuple[str, ...] = ALL_TOPICS,
    partitions: int = PARTITIONS,
    replication_factor: int = 1,
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="topic-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if not missing:
            return
        try:
            await admin.create_topics(
                [
                    NewTopic(t, num_partitions=partitions, replication_factor=replication_factor)
                    for t in missing
                ]
            )
        except TopicAlreadyExistsError:
            pass  # another service created them at the same moment
        log.info("created topics %s", ", ".join(missing))
    finally:
        await admin.close()
