"""Prometheus metrics shared by the services (exposed on /metrics)."""

from prometheus_client import Counter, Gauge, Histogram

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
EVENTS_DEAD_LETTERED = Counter(
    "events_dead_lettered_total",
    "Records a consumer put on a dead-letter topic, by the topic they came from",
    ["service", "topic"],
)
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_age_seconds",
    "Age of the oldest outbox row not yet published (0 when none)",
    ["service"],
)
CONSUMER_LAG = Gauge(
    "consumer_lag",
    "Records of a partition the service's consumer group has not yet committed (end offset"
    " minus committed offset), read from the broker every CONSUMER_LAG_INTERVAL_SECONDS",
    ["service", "topic", "partition"],
)
SCHEDULER_LAST_TICK = Gauge(
    "scheduler_last_tick_timestamp_seconds",
    "When the service's scheduler last completed a pass over what is due, or started (Unix time)",
    ["service"],
)
