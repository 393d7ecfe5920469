"""The dashboard's figures, gathered at once from every service's GET /stats and the broker.

Like the customer details, a source that fails or is slow marks its own section unavailable
and the rest is served.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import TypeAdapter

from gateway.consumer_lag import consumer_lag
from gateway.downstream import Downstream, parse_as
from gateway.schemas.details import SectionOk, SectionUnavailable
from gateway.schemas.stats import ActivityStats, BillingStats, CustomerStats, Stats, TicketStats
from gateway.settings import SERVICE_NAMES, GatewaySettings
from services.runtime.db import utcnow
from services.runtime.problems import Problem

log = logging.getLogger(__name__)


async def _section(
    source: str, fetch: Callable[[], Awaitable[Any]], section: type[SectionOk[Any]]
) -> SectionOk[Any] | SectionUnavailable:
    try:
        data = await fetch()
        filled: SectionOk[Any] = parse_as(TypeAdapter(section), {"data": data}, source)
        return filled
    except Problem as problem:
        return SectionUnavailable(reason=problem.detail or problem.title)
    except Exception as error:
        log.warning("stats: %s failed: %r", source, error)
        return SectionUnavailable(reason=f"{source} failed: {type(error).__name__}: {error}")


async def gather_stats(downstream: Downstream, settings: GatewaySettings) -> Stats:
    def service_stats(service: str) -> Callable[[], Awaitable[Any]]:
        async def fetch() -> Any:
            return await downstream.call(service, "GET", "/stats")

        return fetch

    async def lag() -> Any:
        async with asyncio.timeout(settings.kafka_timeout_seconds):
            rows = await consumer_lag(
                settings.kafka_bootstrap_servers,
                settings.kafka_topic_prefix,
                SERVICE_NAMES,
                timeout_seconds=settings.kafka_timeout_seconds,
                security=settings.kafka_security,
            )
        return [row.model_dump() for row in rows]

    customers, billing, tickets, activity, lags = await asyncio.gather(
        _section("customers", service_stats("customers"), SectionOk[CustomerStats]),
        _section("billing", service_stats("billing"), SectionOk[BillingStats]),
        _section("tickets", service_stats("tickets"), SectionOk[TicketStats]),
        _section("activity", service_stats("activity"), SectionOk[ActivityStats]),
        _section("kafka", lag, SectionOk[list[Any]]),
    )
    return Stats(
        generated_at=utcnow(),
        customers=customers,
        billing=billing,
        tickets=tickets,
        activity=activity,
        consumer_lag=lags,
    )
