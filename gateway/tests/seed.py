"""Data for the gateway's tests, made the way it is made in production: a sale through the
gateway, the services' events settled, an app's device connecting on `apps.events`."""

from datetime import UTC, datetime
from typing import Any

import httpx

from gateway.tests.services import InProcessServices
from services.contracts.apps import DeviceConnectedV1

# A sale of billing's demo catalog.
SALE: dict[str, Any] = {
    "webshop_id": "shop-eu",
    "product_id": "basic",
    "plan_id": "basic-1m",
    "extra_product_ids": [],
    "info": {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"},
}


async def sell(
    client: httpx.AsyncClient,
    services: InProcessServices,
    headers: dict[str, str],
    **changes: Any,
) -> dict[str, Any]:
    """A customer sold through the gateway, every service told (subscription active, welcome
    message sent); the gateway's 201 answer."""
    response = await client.post("/api/v1/customers", json={**SALE, **changes}, headers=headers)
    assert response.status_code == 201, response.text
    await services.settle()
    created: dict[str, Any] = response.json()
    return created


async def connect_device(
    services: InProcessServices, customer_id: str, device_id: str = "stb-1"
) -> None:
    """The customer's TV app reports a device connected."""
    await services.apps_event(
        DeviceConnectedV1(
            customer_id=customer_id,
            device_id=device_id,
            kind="stb",
            model="X1",
            connected_at=datetime.now(UTC),
        ),
        customer_id=customer_id,
    )
