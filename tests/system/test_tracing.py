"""One order is one trace: the processes write their spans to files (TRACES_DIR), read back here.

The webshop sends its order with a W3C `traceparent` in the CloudEvent (the distributed-tracing
extension); every service that handles what follows from that order must put its spans in that
trace, and the reply must carry it back. On HTTP the gateway's calls carry it to the services.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from deploy.trace_tree import SpanRecord, read_spans, render, trace_of
from tests.system.conftest import System, Webshop, eventually, order_paid

TRACED = True

SERVICES = {"customers", "billing", "tickets", "activity"}


def _traceparent() -> tuple[str, str]:
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


def _log_dir(system: System) -> Path:
    assert system.log_dir is not None
    return system.log_dir


def _traces_dir(system: System) -> Path:
    return _log_dir(system) / "traces"


async def _spans_of(system: System, trace_id: str, services: set[str]) -> list[SpanRecord]:
    """The trace's spans once every service wrote some and its first span has ended (a span is
    written when it ends, a parent after its children)."""

    async def find() -> list[SpanRecord] | None:
        spans = [s for s in read_spans(_traces_dir(system)) if s.trace_id == trace_id]
        complete = services <= {s.service for s in spans} and len(trace_of(spans, trace_id)) == 1
        return spans if complete else None

    return await eventually(find, timeout=30.0, what=f"spans of {sorted(services)}")


async def test_one_order_is_one_trace_across_the_four_services(
    system: System, webshop: Webshop
) -> None:
    trace_id, traceparent = _traceparent()
    order = order_paid()
    order["traceparent"] = traceparent
    await webshop.send(order)

    reply = await webshop.reply_for(order["data"]["order_id"])
    assert reply["type"] == "order.accepted.v1"
    assert reply["traceparent"].split("-")[1] == trace_id

    spans = await _spans_of(system, trace_id, SERVICES)
    by_service = {s.service for s in spans}
    assert by_service >= SERVICES
    # Each service handled an event of this order as a consumer span, and the spans chain: the
    # only span whose parent is not in the trace is the first, a child of the webshop's span.
    roots = trace_of(spans, trace_id)
    assert [r.name for r in roots] == ["webshop.orders process order.paid.v1"]
    assert roots[0].parent_id == traceparent.split("-")[2]
    # The queries are spans too (the SQLAlchemy instrumentation, run past its declared range).
    assert any(s.is_query for s in spans)
    tree = render(roots)
    for service in SERVICES:
        assert f"{service}: " in tree
    (_log_dir(system) / f"trace-{trace_id}.txt").write_text(tree + "\n")


async def test_a_gateway_request_carries_its_trace_to_the_services(
    system: System, webshop: Webshop
) -> None:
    order = order_paid()
    await webshop.send(order)
    customer_id = (await webshop.reply_for(order["data"]["order_id"]))["data"]["customer_id"]

    trace_id, traceparent = _traceparent()
    async with system.client() as client:
        response = await client.get(
            f"/api/v1/customers/{customer_id}", headers={"traceparent": traceparent}
        )
    assert response.status_code == 200

    # The details page calls every service: each answers inside the caller's trace.
    spans = await _spans_of(system, trace_id, {"gateway", *SERVICES})
    [root] = trace_of(spans, trace_id)
    assert root.service == "gateway"
    assert root.parent_id == traceparent.split("-")[2]
    roots = [root]
    (_log_dir(system) / f"trace-{trace_id}.txt").write_text(render(roots) + "\n")
