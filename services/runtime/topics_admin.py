"""Creates the declared topics (services/contracts/topics.py) if they do not exist yet."""

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

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
        # Errors come back per topic in the response, not raised: a topic that another service
        # created at the same moment is fine, since all that matters is that it exists.
        await admin.create_topics(
            [
                NewTopic(t, num_partitions=partitions, replication_factor=replication_factor)
                for t in missing
            ]
        )
        log.info("created topics %s", ", ".join(missing))
    finally:
        await admin.close()
