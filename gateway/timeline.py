"""The customer's timeline: the four services asked at once, each bounded by the per-call
timeout, their events merged newest first. A service that fails or is slow is listed as
unavailable and the rest is served; only an unknown customer is an error (404)."""

import asyncio
from typing import get_args

from pydantic import TypeAdapter

from gateway.downstream import Downstream, parse_as, segment
from services.contracts.timeline import ServiceName, ServiceTimeline, Timeline, TimelineItem
from services.runtime.problems import Problem

SERVICES: tuple[ServiceName, ...] = get_args(ServiceName)
_ANSWER = TypeAdapter(ServiceTimeline)


async def _events_of(
    downstream: Downstream, service: ServiceName, customer_id: str, limit: int
) -> list[TimelineItem]:
    path = f"/customers/{segment(customer_id)}/timeline"
    try:
        data = await downstream.call(service, "GET", path, params=[("limit", limit)])
    except Problem as problem:
        if problem.status == 404 and service != "customers":
            return []  # the service has nothing of this customer (e.g. erased there)
        raise
    return parse_as(_ANSWER, data, service).items


async def customer_timeline(downstream: Downstream, customer_id: str, *, limit: int) -> Timeline:
    answers = await asyncio.gather(
        *(_events_of(downstream, service, customer_id, limit) for service in SERVICES),
        return_exceptions=True,
    )
    items: list[TimelineItem] = []
    unavailable: list[ServiceName] = []
    for service, answer in zip(SERVICES, answers, strict=True):
        if isinstance(answer, Problem) and answer.status == 404 and service == "customers":
            raise answer  # the customer itself is unknown (or erased)
        if isinstance(answer, BaseException):
            if not isinstance(answer, Exception):
                raise answer  # cancellation and the like are not a service's failure
            unavailable.append(service)
            continue
        items += answer
    # Events of one instant keep their service's own order.
    merged = ServiceTimeline.newest_first(items, limit)
    return Timeline(items=merged.items, unavailable=unavailable)
