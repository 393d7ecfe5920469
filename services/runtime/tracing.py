"""OpenTelemetry tracing of one process: spans for its HTTP routes, its calls out (httpx), its
queries (SQLAlchemy) and each event it handles, and the W3C trace context carried along.

On HTTP the context travels in the `traceparent` header (the instrumentations read and write
it). On Kafka it travels inside the CloudEvent, in the distributed-tracing extension's
`traceparent` attribute: the outbox writes the context of the transaction that wrote the row,
and the consumer starts its span as a child of it, so one order is one trace across services.

Spans are always made (the trace context must flow even where nothing exports); where they go
is set by the environment, nowhere by default:
- `OTEL_EXPORTER_OTLP_ENDPOINT` (the exporter's own variable): OTLP over HTTP to a collector.
- `TRACES_DIR`: one JSON line per span in `<dir>/<service>.jsonl` (tests, demos).
"""

import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Any

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Span, SpanKind

_tracer = trace.get_tracer("tvcm")
_configured = False


class JsonLinesSpanExporter(SpanExporter):
    """Appends each finished span as one JSON line: what a test or a reader of the docs can
    read back without a collector."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._out: IO[str] = path.open("a", encoding="utf-8")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            self._out.write(json.dumps(json.loads(span.to_json()), separators=(",", ":")) + "\n")
        self._out.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._out.close()


def configure_tracing(
    service: str, *, otlp_endpoint: str | None = None, traces_dir: Path | None = None
) -> TracerProvider | None:
    """Install the process's tracer provider, exporting where its settings say. With neither
    set (the default) none is installed: the API's no-op tracer then makes no spans, yet hands
    on the caller's context (its "span" is the caller's, non-recording), so a `traceparent`
    still flows through a process that exports nothing, to the next one that does. Spans that
    no exporter takes cost every request and event their making, for nothing."""
    if not otlp_endpoint and not traces_dir:
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if otlp_endpoint:
        # Imported only when used: it pulls in protobuf and requests.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # The variable names the collector's base URL, as the OpenTelemetry SDK reads it.
        exporter = OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if traces_dir:
        # Written as each span ends, so a reader sees it without waiting for a batch.
        provider.add_span_processor(
            SimpleSpanProcessor(JsonLinesSpanExporter(Path(traces_dir) / f"{service}.jsonl"))
        )
    trace.set_tracer_provider(provider)
    global _configured
    _configured = True
    return provider


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the active span, None outside any."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def consuming(
    topic: str, event_type: str, event_id: str, traceparent: str | None
) -> Iterator[Span]:
    """A span for handling one event, a child of the span that wrote the event (if it says)."""
    parent = propagate.extract({"traceparent": traceparent}) if traceparent else None
    with _tracer.start_as_current_span(
        f"{topic} process {event_type}",
        context=parent if parent is not None else context.Context(),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.message.id": event_id,
            "cloudevents.event_type": event_type,
        },
    ) as span:
        yield span


def event_span(topic: str, event_type: str, event_id: str, traceparent: str | None) -> Span:
    """The span of one event of a batch, a child of the span that wrote it and linked to the
    batch's (the current span), started but not made current: a batch applies its events
    together, so each order's span covers the whole run; the handler makes it current around
    its work on that event (`within`) and the runtime ends it with the batch."""
    parent = propagate.extract({"traceparent": traceparent}) if traceparent else None
    batch = trace.get_current_span().get_span_context()
    return _tracer.start_span(
        f"{topic} process {event_type}",
        context=parent if parent is not None else context.Context(),
        kind=SpanKind.CONSUMER,
        links=[trace.Link(batch)] if batch.is_valid else None,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.message.id": event_id,
            "cloudevents.event_type": event_type,
        },
    )


def within(span: Span) -> AbstractContextManager[Span]:
    """`span` current (what is published inside continues its trace), left open on exit."""
    return trace.use_span(span, end_on_exit=False)


@contextmanager
def consuming_batch(topic: str, traceparents: Sequence[str | None]) -> Iterator[Span]:
    """A span for a batch handler's run of events: a trace of its own, linked to the span that
    wrote each event (one span cannot have several parents)."""
    links = []
    for traceparent in traceparents:
        if traceparent:
            parent = trace.get_current_span(propagate.extract({"traceparent": traceparent}))
            if parent.get_span_context().is_valid:
                links.append(trace.Link(parent.get_span_context()))
    with _tracer.start_as_current_span(
        f"{topic} process batch",
        context=context.Context(),
        kind=SpanKind.CONSUMER,
        links=links,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.batch.message_count": len(traceparents),
        },
    ) as span:
        yield span


class TraceContextPassthrough:
    """ASGI middleware of a process that exports no spans: the caller's `traceparent` (and
    `tracestate`) made the current context for the request, so what the request writes (outbox
    rows) and calls (the gateway's client, `pass_trace_context_on`) carries it on. What the
    OpenTelemetry instrumentation would do, without its no-op spans, attributes and metrics:
    those cost the gateway 40% of its CPU per list page (docs/performance.md)."""

    _HEADERS = (b"traceparent", b"tracestate")

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        carrier = {}
        if scope["type"] == "http":
            carrier = {
                name.decode("latin-1"): value.decode("latin-1")
                for name, value in scope["headers"]
                if name in self._HEADERS
            }
        if not carrier:
            await self.app(scope, receive, send)
            return
        token = context.attach(propagate.extract(carrier))
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)


async def _inject_trace_context(request: Any) -> None:
    propagate.inject(request.headers)


def pass_trace_context_on(client: Any) -> None:
    """An httpx client's calls carry the current context's `traceparent`, if any."""
    client.event_hooks["request"].append(_inject_trace_context)


def instrument_app(app: Any) -> None:
    """Server spans for every route of a FastAPI app, children of the caller's `traceparent`;
    in a process that exports none, only the caller's context passed through."""
    if not _configured:
        app.add_middleware(TraceContextPassthrough)
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # /metrics and the probes are scraped every few seconds: spans of them would drown the rest.
    # Nor are the ASGI send/receive spans worth one each per request.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="/metrics,/healthz,/readyz", exclude_spans=["receive", "send"]
    )


def instrument_engine(engine: Any) -> None:
    """Client spans for the queries of one SQLAlchemy engine (the sync engine under async),
    in a process that configured tracing: the instrumentor is one per process and also wraps
    `create_engine` everywhere, which a test process building many apps must not get."""
    if not _configured:
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # Its declared range stops before SQLAlchemy 2.1; the engine events it uses are unchanged
    # in 2.1 (a test checks that query spans still come).
    SQLAlchemyInstrumentor().instrument(engine=engine, skip_dep_check=True)


def instrument_httpx_client(client: Any) -> None:
    """Client spans for one httpx client's calls, which then carry `traceparent` out; in a
    process that exports none, only the `traceparent` is carried."""
    if not _configured:
        pass_trace_context_on(client)
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client)
