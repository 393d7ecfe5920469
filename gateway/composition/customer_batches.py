"""Bulk add through the gateway: the sale is checked against the catalog once, then the
customers service queues the job and its worker makes the customers."""

from gateway.clients import ServiceClients
from gateway.schemas.customer_batches import CustomerBatch, CustomerBatchCreate


async def create_batch(services: ServiceClients, payload: CustomerBatchCreate) -> CustomerBatch:
    """The queued job (a repeated Idempotency-Key: the first job)."""
    await services.billing.check_sale(payload)
    return await services.customers.create_batch(payload)
