"""Prometheus metrics of the gateway (exposed on /metrics with the shared ones)."""

from prometheus_client import Histogram

DOWNSTREAM_SECONDS = Histogram(
    "gateway_downstream_seconds",
    "Time of one call from the gateway to a service, by outcome",
    ["service", "outcome"],
)
