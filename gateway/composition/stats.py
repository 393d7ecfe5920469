"""The dashboard's figures, gathered at once from every service's GET /stats and the broker.

Like the customer details, a source that fails or is slow marks its own section unavailable
and the rest is served.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import TypeAdapter

from gateway.clients import ServiceClients
from gateway.consumer_lag import consumer_lag
from gateway.downstream import parse_as
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


async def gather_stats(services: ServiceClients, settings: GatewaySettings) -> Stats:
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
        _section("customers", services.customers.stats, SectionOk[CustomerStats]),
        _section("billing", services.billing.stats, SectionOk[BillingStats]),
        _section("tickets", services.tickets.stats, SectionOk[TicketStats]),
        _section("activity", services.activity.stats, SectionOk[ActivityStats]),
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
