"""How far each service's consumers are behind, for the stats page: the runtime's reading of
committed against end offsets (services/runtime/consumer_lag.py), in the page's shapes."""

from collections.abc import Sequence

from gateway.schemas.stats import PartitionLag, ServiceLag
from services.runtime.consumer_lag import LagReader, group_id
from services.runtime.kafka_security import KafkaSecurity


async def consumer_lag(
    bootstrap_servers: str,
    prefix: str,
    services: Sequence[str],
    *,
    timeout_seconds: float,
    security: KafkaSecurity | None = None,
) -> list[ServiceLag]:
    """Lag per service and partition, read with clients opened for this one read."""
    reader = LagReader(
        bootstrap_servers,
        prefix=prefix,
        client_id="gateway-stats",
        timeout_seconds=timeout_seconds,
        security=security,
    )
    await reader.start()
    try:
        lags = await reader.read(services)
    finally:
        await reader.stop()
    result = []
    for service in services:
        rows = [
            PartitionLag(
                topic=row.topic,
                partition=row.partition,
                committed=row.committed,
                end=row.end,
                lag=row.lag,
            )
            for row in lags[service]
        ]
        result.append(
            ServiceLag(
                service=service,
                group_id=group_id(prefix, service),
                lag=sum(row.lag for row in rows),
                partitions=rows,
            )
        )
    return result
