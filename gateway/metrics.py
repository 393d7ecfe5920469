"""Prometheus metrics of the gateway (exposed on /metrics with the shared ones)."""

from prometheus_client import Counter, Histogram

DOWNSTREAM_SECONDS = Histogram(
    "gateway_downstream_seconds",
    "Time of one call from the gateway to a service, by outcome",
    ["service", "outcome"],
)
DOWNSTREAM_RETRIES = Counter(
    "gateway_downstream_retries_total",
    "Calls sent once more because their pooled connection broke before the answer",
    ["service", "error"],
)
