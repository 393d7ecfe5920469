"""Stand-ins for the four services behind an httpx.MockTransport, and sample answers."""

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]

SERVICE_URLS = {
    "customers": "http://customers.test",
    "billing": "http://billing.test",
    "tickets": "http://tickets.test",
    "activity": "http://activity.test",
}
_SERVICE_BY_HOST = {httpx.URL(url).host: name for name, url in SERVICE_URLS.items()}

CUSTOMER_ID = "0b7c9c1e-4e1a-4c53-9d5e-3f1f2f1a6b10"
GENERATED_PASSWORD = "50918342"


def problem(status: int, title: str, detail: str, **extra: Any) -> httpx.Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


class FakeServices:
    """Answers by (service, method, path); records every request; unknown routes are 404."""

    def __init__(self) -> None:
        self.handlers: dict[tuple[str, str, str], Handler] = {}
        self.requests: list[tuple[str, httpx.Request]] = []

    def on(self, service: str, method: str, path: str, handler: Handler) -> None:
        self.handlers[(service, method, path)] = handler

    def answer(self, service: str, method: str, path: str, status: int, body: Any) -> None:
        self.on(service, method, path, lambda _: httpx.Response(status, json=body))

    def calls(self, service: str, method: str | None = None) -> list[httpx.Request]:
        return [
            r for s, r in self.requests if s == service and (method is None or r.method == method)
        ]

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        service = _SERVICE_BY_HOST[request.url.host]
        self.requests.append((service, request))
        handler = self.handlers.get((service, request.method, request.url.path))
        if handler is None:
            return problem(404, "Not Found", f"no fake for {request.method} {request.url.path}")
        result = handler(request)
        if isinstance(result, httpx.Response):
            return result
        return await result


def json_body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def customer(customer_id: str = CUSTOMER_ID, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": customer_id,
        "status": "pending",
        "source": "manual",
        "login": "4812093377",
        "webshop_id": "demo",
        "info": {
            "first_name": "Jane",
            "last_name": "Doe",
            "email": "jane@example.com",
            "phone": None,
            "city": None,
            "country": "HU",
        },
        "subscription": {
            "product_id": None,
            "plan_id": None,
            "extra_product_ids": [],
            "status": None,
            "expires_at": None,
        },
        "created_at": "2026-11-28T10:00:00Z",
        "updated_at": "2026-11-28T10:00:00Z",
    }
    record.update(changes)
    return record


def subscription(customer_id: str = CUSTOMER_ID) -> dict[str, Any]:
    return {
        "id": "sub-1",
        "customer_id": customer_id,
        "webshop_id": "demo",
        "product_id": "basic",
        "plan_id": "basic-1m",
        "extra_product_ids": [],
        "status": "active",
        "starts_at": "2026-11-28T10:00:00Z",
        "expires_at": "2026-12-28T10:00:00Z",
        "max_devices": 2,
    }


def transactions(customer_id: str = CUSTOMER_ID) -> dict[str, Any]:
    return {
        "items": [
            {
                "id": "tx-1",
                "customer_id": customer_id,
                "subscription_id": "sub-1",
                "kind": "charge",
                "amount": "9.99",
                "currency": "EUR",
                "source": "manual",
                "webshop_id": "demo",
                "order_id": f"op-{customer_id}",
                "reference": None,
                "description": "Basic TV, 1 month",
                "recorded_at": "2026-11-28T10:00:01Z",
            }
        ],
        "next_cursor": None,
        "balance": {"EUR": "9.99"},
    }


def messages(customer_id: str = CUSTOMER_ID) -> dict[str, Any]:
    return {
        "items": [
            {
                "id": "msg-1",
                "customer_id": customer_id,
                "channel": "in_app",
                "template": "welcome",
                "title": "Welcome",
                "body": "Welcome to TV",
                "device_id": None,
                "status": "sent",
                "sent_at": "2026-11-28T10:00:02Z",
                "read_at": None,
            }
        ],
        "next_cursor": None,
    }


def devices(customer_id: str = CUSTOMER_ID) -> dict[str, Any]:
    return {
        "items": [
            {
                "id": "dev-1",
                "customer_id": customer_id,
                "kind": "stb",
                "model": "X1",
                "online": True,
                "first_seen_at": "2026-11-28T11:00:00Z",
                "last_seen_at": "2026-11-28T12:00:00Z",
            }
        ],
        "next_cursor": None,
        "max_devices": 2,
    }


def customer_with_all_sections(fake: FakeServices, customer_id: str = CUSTOMER_ID) -> None:
    """Every service answers the details page for `customer_id`."""
    base = f"/customers/{customer_id}"
    fake.answer("customers", "GET", base, 200, customer(customer_id))
    fake.answer("billing", "GET", f"{base}/subscription", 200, subscription(customer_id))
    fake.answer("billing", "GET", f"{base}/transactions", 200, transactions(customer_id))
    fake.answer("tickets", "GET", f"{base}/messages", 200, messages(customer_id))
    fake.answer("activity", "GET", f"{base}/devices", 200, devices(customer_id))


def billing_allows_the_sale(fake: FakeServices) -> None:
    fake.on("billing", "POST", "/orders/check", lambda _: httpx.Response(204))


def customers_creates(fake: FakeServices) -> None:
    """Like the customers service: 201 with the generated password, 200 for a seen key."""
    seen: set[str] = set()

    def create(request: httpx.Request) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        if key in seen:
            return httpx.Response(200, json={**customer(), "password": None})
        if key:
            seen.add(key)
        return httpx.Response(201, json={**customer(), "password": GENERATED_PASSWORD})

    fake.on("customers", "POST", "/customers", create)
