"""The gateway's REST API under /api/v1, one small module per area."""

from fastapi import APIRouter

from gateway.routes import (
    activity,
    api_keys,
    audit,
    auth,
    catalog,
    customer_batches,
    customer_lifecycle,
    customer_records,
    customers,
    dead_letters,
    operators,
    profiles,
    stats,
    subscriptions,
    tickets,
)

ROUTERS: list[APIRouter] = [
    auth.router,
    catalog.router,
    # Before customers: its GET /customers/{id} would otherwise take /customers/export.csv.
    customer_records.router,
    customers.router,
    customer_lifecycle.router,
    profiles.router,
    customer_batches.router,
    subscriptions.router,
    activity.router,
    audit.router,
    operators.router,
    api_keys.router,
    tickets.router,
    stats.router,
    dead_letters.router,
]
