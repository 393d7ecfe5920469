"""Creates the declared topics (services/contracts/topics.py, under the deployment's prefix) if
they do not exist yet."""

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from services.contracts.topics import PARTITIONS
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
    topics: tuple[str, ...],
    partitions: int = PARTITIONS,
    replication_factor: int = 1,
    security: KafkaSecurity | None = None,
    visible_within_seconds: float = 120.0,
    retry_for_seconds: float = 60.0,
) -> None:
    """Create the missing topics. A broker that does not answer (one of a cluster's brokers
    just died while its metadata still names it: the fault campaign started a service then,
    and its start failed with NodeNotReadyError) is retried with a new client, which asks
    another broker, for up to `retry_for_seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + retry_for_seconds
    delay = 0.5
    while True:
        try:
            await _ensure_once(
                bootstrap_servers,
                topics,
                partitions,
                replication_factor,
                security,
                visible_within_seconds,
            )
            return
        except KafkaError as error:
            if not error.retriable or loop.time() + delay > deadline:
                raise
            log.warning("topic admin: %r; trying again in %.1f s", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def _ensure_once(
    bootstrap_servers: str,
    topics: tuple[str, ...],
    partitions: int,
    replication_factor: int,
    security: KafkaSecurity | None,
    visible_within_seconds: float,
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
        await _until_visible(admin, missing, visible_within_seconds)
    finally:
        await admin.close()


async def _until_visible(admin: AIOKafkaAdminClient, topics: list[str], timeout: float) -> None:
    """Wait until the broker's metadata shows the new topics with their partitions. Creation
    answers before that: a consumer started in between finds no such topic and fails the start
    (seen after 10 s and more on a broker holding thousands of topics)."""
    pending = list(topics)
    try:
        async with asyncio.timeout(timeout):
            while True:
                described = await admin.describe_topics(pending)
                pending = [d["topic"] for d in described if d["error_code"] or not d["partitions"]]
                if not pending:
                    return
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise TopicCreationError(
            f"topics created but not in the broker's metadata after {timeout:.0f} s: "
            + ", ".join(pending)
        ) from None
