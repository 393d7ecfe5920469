"""Prometheus metrics shared by the services (exposed on /metrics)."""

from prometheus_client import Counter, Histogram

OUTBOX_PUBLISHED = Counter("outbox_published_total", "Outbox rows published to Kafka", ["service"])
EVENTS_CONSUMED = Counter(
    "events_consumed_total", "Events handled by a consumer", ["service", "topic", "outcome"]
)
EVENT_HANDLING_SECONDS = Histogram(
    "event_handling_seconds", "Time to handle one event, retries included", ["service", "topic"]
)
HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered", ["service", "method", "route", "status"]
)
