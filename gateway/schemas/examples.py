"""Whole-answer examples for the OpenAPI document, one per shape the API answers with.

Kept together so the examples agree with each other (the same customer, product and plan ids);
a list page's example is derived from its item's (see `Page`).
"""

from typing import Any

from pydantic.config import JsonDict

CUSTOMER_ID = "0b7c9c1e-4e1a-4c53-9d5e-3f1f2f1a6b10"
AT = "2026-11-28T10:15:00Z"

PLAN: JsonDict = {
    "id": "basic-1m",
    "name": "1 month",
    "length": 1,
    "unit": "months",
    "prices": {"EUR": "9.99"},
    "archived": False,
}
PRODUCT: JsonDict = {
    "id": "basic",
    "name": "Basic TV",
    "kind": "base",
    "subscription_type": "regular",
    "max_devices": 2,
    "starts_on_first_login": False,
    "packages": ["news", "general"],
    "archived": False,
    "plans": [PLAN],
}
WEBSHOP: JsonDict = {
    "id": "shop-eu",
    "name": "EU webshop",
    "currencies": ["EUR"],
    "product_ids": ["basic", "premium"],
    "archived": False,
}
CUSTOMER: JsonDict = {
    "id": CUSTOMER_ID,
    "status": "active",
    "source": "manual",
    "login": "4812093377",
    "webshop_id": "shop-eu",
    "info": {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"},
    "subscription": {
        "product_id": "basic",
        "plan_id": "basic-1m",
        "extra_product_ids": [],
        "status": "active",
        "expires_at": "2026-12-28T10:15:00Z",
    },
    "created_at": AT,
    "updated_at": AT,
}
CUSTOMER_CREATED: JsonDict = {**CUSTOMER, "status": "pending", "password": "50918342"}
SUBSCRIPTION: JsonDict = {
    "id": "7d0e5c2a-9b51-4a8e-8f3c-1c2d3e4f5a6b",
    "customer_id": CUSTOMER_ID,
    "webshop_id": "shop-eu",
    "product_id": "basic",
    "plan_id": "basic-1m",
    "extra_product_ids": [],
    "status": "active",
    "starts_at": AT,
    "expires_at": "2026-12-28T10:15:00Z",
    "max_devices": 2,
}
TRANSACTION: JsonDict = {
    "id": "5b8f1a7e-2c3d-4e5f-8a9b-0c1d2e3f4a5b",
    "customer_id": CUSTOMER_ID,
    "subscription_id": SUBSCRIPTION["id"],
    "kind": "charge",
    "amount": "9.99",
    "currency": "EUR",
    "source": "manual",
    "webshop_id": "shop-eu",
    "order_id": None,
    "reference": None,
    "description": "Basic TV, 1 month",
    "plan_id": "basic-1m",
    "period_starts_at": AT,
    "period_ends_at": "2026-12-28T10:15:00Z",
    "recorded_at": AT,
    "balance_after": "9.99",
}
TRANSACTION_PAGE: JsonDict = {
    "items": [TRANSACTION],
    "next_cursor": None,
    "balance": {"EUR": "9.99"},
}
MESSAGE: JsonDict = {
    "id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "customer_id": CUSTOMER_ID,
    "channel": "in_app",
    "template": "welcome",
    "title": "Welcome",
    "body": "Your subscription is active.",
    "device_id": None,
    "status": "sent",
    "sent_at": AT,
    "read_at": None,
}
DEVICE: JsonDict = {
    "id": "stb-0001",
    "customer_id": CUSTOMER_ID,
    "kind": "stb",
    "model": "Mag 524",
    "online": True,
    "first_seen_at": AT,
    "last_seen_at": AT,
}
CUSTOMER_DETAILS: JsonDict = {
    **CUSTOMER,
    "sections": {
        "subscription": {"status": "ok", "data": SUBSCRIPTION},
        "transactions": {"status": "ok", "data": TRANSACTION_PAGE},
        "messages": {"status": "ok", "data": {"items": [MESSAGE], "next_cursor": None}},
        "devices": {
            "status": "unavailable",
            "reason": "the activity service is unavailable: no answer within 2 s",
        },
    },
}
AUDIT_ENTRY: JsonDict = {
    "id": 42,
    "at": AT,
    "actor": "jane",
    "actor_kind": "operator",
    "action": "customer.create",
    "method": "POST",
    "path": "/api/v1/customers",
    "customer_id": CUSTOMER_ID,
    "status_code": 201,
    "before": None,
    "after": {"id": CUSTOMER_ID, "status": "pending"},
}
OPERATOR: JsonDict = {
    "id": "6c1f6d2e-3f4b-4a55-9c1e-0d2b7a9e4f10",
    "username": "jane",
    "role": "operator",
    "disabled": False,
    "created_at": AT,
}
API_KEY: JsonDict = {
    "id": "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
    "name": "ops dashboard",
    "prefix": "tvcm_1a2b3c4d",
    "role": "viewer",
    "created_at": AT,
    "revoked_at": None,
}
API_KEY_CREATED: JsonDict = {
    **API_KEY,
    "key": "tvcm_1a2b3c4d_Q2hhbmdlIG1lOiB0aGlzIGlzIGFuIGV4YW1wbGU",
}


def example_of(model: type[Any]) -> Any | None:
    """The first whole-answer example a pydantic model declares, if any."""
    config = getattr(model, "model_config", {})
    extra = config.get("json_schema_extra")
    if isinstance(extra, dict):
        examples = extra.get("examples")
        if isinstance(examples, list) and examples:
            return examples[0]
    return None


TICKET_ID = "5d2c6f8e-1b7a-4a38-9c0e-2f6b1d9a7e41"
TICKET_MESSAGE: JsonDict = {
    "id": "c3a1e2f4-8b9d-4c6e-a7f0-1d2e3c4b5a69",
    "ticket_id": TICKET_ID,
    "author_kind": "operator",
    "author": "alice",
    "internal": False,
    "body": "Please restart the box; it will update.",
    "created_at": AT,
}
TICKET: JsonDict = {
    "id": TICKET_ID,
    "customer_id": CUSTOMER_ID,
    "customer_name": "Jane Doe",
    "subject": "No picture on channel 5",
    "status": "pending",
    "priority": "normal",
    "assignee": "alice",
    "opened_by": "bob",
    "created_at": AT,
    "updated_at": AT,
    "first_response_at": AT,
    "resolved_at": None,
    "closed_at": None,
}
TICKET_DETAILS: JsonDict = {**TICKET, "messages": [TICKET_MESSAGE]}
CUSTOMER_MESSAGE: JsonDict = {
    "id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "customer_id": CUSTOMER_ID,
    "channel": "in_app",
    "template": None,
    "ticket_id": None,
    "sent_by": "alice",
    "title": "Maintenance tonight",
    "body": "Between 2 and 4 am.",
    "device_id": None,
    "status": "read",
    "sent_at": AT,
    "read_at": "2026-11-28T10:20:00Z",
}
BOUND_DEVICE: JsonDict = {
    "id": "stb-7f3a",
    "customer_id": CUSTOMER_ID,
    "kind": "stb",
    "model": "X1 4K",
    "os": "Android TV 12",
    "app_version": "5.2.0",
    "ip": "192.0.2.10",
    "online": True,
    "first_seen_at": AT,
    "connected_at": AT,
    "last_seen_at": AT,
}
BOUND_DEVICE_PAGE: JsonDict = {
    "items": [BOUND_DEVICE],
    "next_cursor": None,
    "max_devices": 2,
    "device_policy": "reject",
}
SAVED_ITEM: JsonDict = {
    "id": "fav-0001",
    "customer_id": CUSTOMER_ID,
    "profile_id": "p-main",
    "item_type": "channel",
    "item_id": "ch-42",
    "title": "News 24",
    "added_at": AT,
}
RECORDING: JsonDict = {
    "id": "rec-9001",
    "customer_id": CUSTOMER_ID,
    "profile_id": "p-main",
    "channel_id": "ch-42",
    "programme_id": "prog-777",
    "title": "Evening News",
    "starts_at": "2026-11-28T19:00:00Z",
    "ends_at": "2026-11-28T19:30:00Z",
    "state": "completed",
    "size_bytes": 1073741824,
    "failure_reason": None,
    "scheduled_at": AT,
    "finished_at": "2026-11-28T19:30:05Z",
}

ACCOUNT: JsonDict = {
    "customer_id": CUSTOMER_ID,
    "login": "4812093377",
    "login_generated": True,
    "disabled": False,
    "created_at": AT,
    "updated_at": AT,
    "last_login_at": "2026-11-28T18:02:00Z",
    "password_reset_at": None,
}
PASSWORD_RESET: JsonDict = {
    "customer_id": CUSTOMER_ID,
    "password": "50918342",
    "password_reset_at": AT,
}
SUBSCRIPTION_DETAIL: JsonDict = {
    **SUBSCRIPTION,
    "extra_product_ids": ["hbo"],
    "device_policy": "reject",
    "starts_on_first_login": False,
    "extras": [{"product_id": "hbo", "plan_id": "hbo-1m", "expires_at": None}],
    "cancel_at_period_end": False,
    "scheduled_change": None,
}
INVOICE: JsonDict = {
    "id": "inv-2026-000042",
    "customer_id": CUSTOMER_ID,
    "order_id": "order-1001",
    "webshop_id": "shop-eu",
    "source": "webshop",
    "currency": "EUR",
    "issued_at": AT,
    "total": "9.99",
    "paid": "9.99",
    "due": "0.00",
    "lines": [
        {
            "transaction_id": TRANSACTION["id"],
            "kind": "charge",
            "description": "Basic TV, 1 month",
            "amount": "9.99",
            "period_starts_at": AT,
            "period_ends_at": "2026-12-28T10:15:00Z",
        },
        {
            "transaction_id": "6c9f2b8e-3d4e-4f5a-9b0c-1d2e3f4a5b6c",
            "kind": "payment",
            "description": "paid through webshop",
            "amount": "-9.99",
            "period_starts_at": AT,
            "period_ends_at": "2026-12-28T10:15:00Z",
        },
    ],
}
CUSTOMERS_CSV = (
    "id,status,source,login,webshop_id,title,first_name,last_name,email,phone,mobile,street,"
    "zip,city,state,country,comments,mapping_id,product_id,plan_id,extra_product_ids,"
    "subscription_status,expires_at,created_at,updated_at\r\n"
    f"{CUSTOMER_ID},active,manual,4812093377,shop-eu,,Jane,Doe,jane@example.com,+3612345678,,,,"
    "Budapest,,HU,,,basic,basic-1m,hbo,active,2026-12-28T10:15:00+00:00,"
    "2026-11-28T10:15:00+00:00,2026-11-28T10:15:00+00:00\r\n"
)
