"""The trace context rides the outbox and the consumer: an event carries the `traceparent` of
the span that wrote it, and its handling is a child span of that one (in-memory exporter)."""

from collections.abc import Iterator, Sequence

import httpx
import pytest
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.contracts.envelope import CloudEvent
from services.runtime.consumer import Delivery, EventConsumer, Incoming
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.tests._helpers import RecordingProducer, consumer_record, outbox_rows
from services.runtime.tests.conftest import Tables
from services.runtime.tests.test_consumer import CREATED, TOPIC, Harness
from services.runtime.tracing import (
    TraceContextPassthrough,
    configure_tracing,
    consuming_batch,
    current_traceparent,
    pass_trace_context_on,
)

_EXPORTER = InMemorySpanExporter()
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        # The global provider can be set once per process; the first test to need it sets it.
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    if not getattr(provider, "_tvcm_test_exporter", False):
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        provider._tvcm_test_exporter = True  # type: ignore[attr-defined]
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


async def test_an_outbox_event_carries_the_traceparent_of_its_writer(
    sqlite_db: Database, tables: Tables, spans: InMemorySpanExporter
) -> None:
    outbox = Outbox(tables.outbox, source="/services/test", on_commit=lambda: None)
    with trace.get_tracer("test").start_as_current_span("write") as span:
        async with sqlite_db.transaction() as session:
            await outbox.add(session, CREATED, topic=TOPIC, key="customer-1")
    [row] = await outbox_rows(sqlite_db, tables.outbox)
    context = span.get_span_context()
    assert (row.event.traceparent or "").startswith(
        f"00-{context.trace_id:032x}-{context.span_id:016x}-"
    )


async def test_outside_any_span_an_event_has_no_traceparent(
    sqlite_db: Database, tables: Tables, spans: InMemorySpanExporter
) -> None:
    assert current_traceparent() is None
    outbox = Outbox(tables.outbox, source="/services/test", on_commit=lambda: None)
    async with sqlite_db.transaction() as session:
        await outbox.add(session, CREATED, topic=TOPIC, key="customer-1")
    [row] = await outbox_rows(sqlite_db, tables.outbox)
    assert row.event.traceparent is None
    assert "traceparent" not in row.event.to_bytes().decode()


async def test_handling_is_a_child_of_the_writer_and_what_it_writes_stays_in_the_trace(
    db: Database, tables: Tables, spans: InMemorySpanExporter
) -> None:
    harness = Harness(db, tables)
    outbox = Outbox(tables.outbox, source="/services/test", on_commit=lambda: None)
    written: list[CloudEvent] = []

    async def handle(delivery: Delivery, data: object) -> None:
        written.append(
            await outbox.add(delivery.session, CREATED, topic="billing.events", key="customer-1")
        )

    harness.consumer.handlers[TOPIC][CREATED.event_type] = (type(CREATED), handle)
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    event = CloudEvent.wrap(
        CREATED, source="/tests", subject=None, traceparent=f"00-{trace_id}-{parent_id}-01"
    )
    record = consumer_record(TOPIC, event.to_bytes())

    assert await harness.consumer.process(TOPIC, record) == "handled"

    [span] = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert span.name == "customers.events process customer.created.v1"
    assert f"{span.context.trace_id:032x}" == trace_id
    assert span.parent is not None and f"{span.parent.span_id:016x}" == parent_id
    assert span.attributes is not None
    assert span.attributes["messaging.message.id"] == event.id
    [out] = written
    assert (out.traceparent or "").startswith(f"00-{trace_id}-{span.context.span_id:016x}-")


async def test_an_event_without_traceparent_starts_a_trace_of_its_own(
    sqlite_db: Database, tables: Tables, spans: InMemorySpanExporter
) -> None:
    harness = Harness(sqlite_db, tables)
    record = consumer_record(TOPIC, CloudEvent.wrap(CREATED, source="/t", subject=None).to_bytes())
    with trace.get_tracer("test").start_as_current_span("unrelated"):
        assert await harness.consumer.process(TOPIC, record) == "handled"
    [span] = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert span.parent is None


def test_a_batch_run_is_one_span_linked_to_each_events_writer(
    spans: InMemorySpanExporter,
) -> None:
    writers = [("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"), ("a" * 32, "b" * 16)]
    with consuming_batch("apps.events", [f"00-{t}-{s}-01" for t, s in writers] + [None]):
        pass
    [span] = spans.get_finished_spans()
    assert span.name == "apps.events process batch"
    assert span.parent is None
    assert [
        (f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}") for link in span.links
    ] == writers


def test_without_an_exporter_no_tracer_provider_is_installed() -> None:
    """Spans nobody exports cost every request and event their making (docs/performance.md):
    a process configured to export nowhere keeps the API's no-op tracer."""
    before = trace.get_tracer_provider()

    assert configure_tracing("customers") is None
    assert trace.get_tracer_provider() is before


def test_the_no_op_tracer_still_hands_on_the_callers_trace() -> None:
    """What a process that exports nothing relies on: the API's no-op tracer makes no span of
    its own, yet the caller's context stays current, so what it writes or calls carries the
    caller's `traceparent` on to the next process that does export."""
    parent = propagate.extract({"traceparent": TRACEPARENT})

    with trace.NoOpTracer().start_as_current_span("handle", context=parent) as span:
        assert not span.is_recording()
        assert current_traceparent() == TRACEPARENT


@pytest.mark.parametrize("incoming", [TRACEPARENT, None])
async def test_a_process_that_exports_nothing_passes_the_callers_trace_on(
    incoming: str | None,
) -> None:
    """Over HTTP too: without export the caller's `traceparent` is the request's context (what
    it writes carries it) and its calls to other services carry it on; no spans are made."""
    outgoing: list[str | None] = []

    def service(request: httpx.Request) -> httpx.Response:
        outgoing.append(request.headers.get("traceparent"))
        return httpx.Response(204)

    async def page(request: Request) -> JSONResponse:
        async with httpx.AsyncClient(transport=httpx.MockTransport(service)) as client:
            pass_trace_context_on(client)
            await client.get("http://customers.test/customers")
        return JSONResponse({"traceparent": current_traceparent()})

    # Starlette, not FastAPI: FastAPI makes spans of its own through the API, and this test
    # process has an SDK provider (the `spans` fixture); a process exporting nothing has none.
    app = TraceContextPassthrough(Starlette(routes=[Route("/page", page)]))
    headers = {"traceparent": incoming} if incoming else {}
    # In process the app runs in the test's task: start it from an empty context, as a server
    # starts each request (other tests in this loop leave spans current).
    token = otel_context.attach(otel_context.Context())
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        ) as http:
            answer = (await http.get("/page", headers=headers)).json()
    finally:
        otel_context.detach(token)

    assert answer == {"traceparent": incoming}
    assert outgoing == [incoming]


async def test_each_event_of_a_batch_run_has_its_span_in_its_own_trace(
    sqlite_db: Database, tables: Tables, spans: InMemorySpanExporter
) -> None:
    """A set-based handler works on a run at once, yet each order stays one trace across the
    services: every event gets a consumer span, a child of its writer and linked to the batch's,
    whether or not the handler opens it; what it publishes inside `traced()` continues it."""
    consumer = EventConsumer(
        service="test",
        db=sqlite_db,
        inbox=tables.inbox,
        producer=RecordingProducer().as_producer(),
        max_attempts=1,
        max_backoff_seconds=0.001,
    )
    outbox = Outbox(tables.outbox, source="/services/test", on_commit=lambda: None)
    written: list[CloudEvent] = []

    @consumer.on_batch(TOPIC, type(CREATED))
    async def handle(session: AsyncSession, batch: Sequence[Incoming]) -> None:
        with batch[0].traced():  # only the first publishes; the second is applied silently
            written.append(await outbox.add(session, CREATED, topic="x.events", key="c-1"))

    writers = [("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"), ("a" * 32, "b" * 16)]
    events = [
        CloudEvent.wrap(CREATED, source="/t", subject=None, traceparent=f"00-{t}-{s}-01")
        for t, s in writers
    ]
    await consumer.process_batch(
        [consumer_record(TOPIC, e.to_bytes(), offset=n) for n, e in enumerate(events)]
    )

    finished = spans.get_finished_spans()
    [batch] = [s for s in finished if s.name == f"{TOPIC} process batch"]
    per_event = [s for s in finished if s.name == f"{TOPIC} process customer.created.v1"]
    assert [
        (f"{s.context.trace_id:032x}", s.parent and f"{s.parent.span_id:016x}") for s in per_event
    ] == writers
    for span in per_event:
        assert [link.context.span_id for link in span.links] == [batch.context.span_id]
    [out] = written
    first = per_event[0].context
    assert out.traceparent == f"00-{first.trace_id:032x}-{first.span_id:016x}-01"
