"""A customer's record through the gateway: edits (with the webshop checked against billing's
catalog), the account, and the CSV export streamed from the customers service."""

from collections.abc import AsyncIterator

import httpx
from pydantic import TypeAdapter

from gateway.downstream import (
    Downstream,
    QueryParams,
    parse_as,
    problem_from,
    segment,
    service_unavailable,
)
from gateway.schemas.customer_records import (
    AccountPublic,
    AccountUpdate,
    CustomerUpdate,
    PasswordReset,
)
from gateway.schemas.customers import CustomerPublic
from gateway.schemas.subscriptions import WebshopMove
from services.runtime.problems import Problem, field_error

_CUSTOMER = TypeAdapter(CustomerPublic)
_ACCOUNT = TypeAdapter(AccountPublic)
_RESET = TypeAdapter(PasswordReset)
_MOVE = TypeAdapter(WebshopMove)


async def webshop_move(downstream: Downstream, customer_id: str, webshop_id: str) -> WebshopMove:
    """Billing's verdict on moving the customer to `webshop_id` (nothing is saved)."""
    data = await downstream.call(
        "billing",
        "GET",
        f"/customers/{segment(customer_id)}/webshop-move",
        params=[("webshop_id", webshop_id)],
    )
    return parse_as(_MOVE, data, "billing")


async def check_webshop_move(downstream: Downstream, customer_id: str, webshop_id: str) -> None:
    """422 naming `webshop_id` unless billing may move the customer's subscription there: the
    webshop exists, is not archived, and sells the running product and plan."""
    move = await webshop_move(downstream, customer_id, webshop_id)
    if not move.allowed:
        message = move.reason or f"cannot move to webshop {webshop_id!r}"
        raise Problem(
            422,
            "Webshop move not allowed",
            message,
            errors=[field_error("webshop_id", message)],
        )


async def update_customer(
    downstream: Downstream,
    customer_id: str,
    payload: CustomerUpdate,
) -> CustomerPublic:
    if payload.webshop_id is not None:
        await check_webshop_move(downstream, customer_id, payload.webshop_id)
    data = await downstream.call(
        "customers",
        "PATCH",
        f"/customers/{segment(customer_id)}",
        json_body=payload.model_dump(mode="json", exclude_unset=True),
    )
    return parse_as(_CUSTOMER, data, "customers")


async def get_account(downstream: Downstream, customer_id: str) -> AccountPublic:
    data = await downstream.call("customers", "GET", f"/customers/{segment(customer_id)}/account")
    return parse_as(_ACCOUNT, data, "customers")


async def update_account(
    downstream: Downstream,
    customer_id: str,
    payload: AccountUpdate,
) -> AccountPublic:
    data = await downstream.call(
        "customers",
        "PATCH",
        f"/customers/{segment(customer_id)}/account",
        json_body=payload.model_dump(mode="json", exclude_unset=True),
    )
    return parse_as(_ACCOUNT, data, "customers")


async def reset_password(downstream: Downstream, customer_id: str) -> PasswordReset:
    data = await downstream.call(
        "customers",
        "POST",
        f"/customers/{segment(customer_id)}/account/password",
    )
    return parse_as(_RESET, data, "customers")


async def open_export(downstream: Downstream, params: QueryParams) -> httpx.Response:
    """The customers service's CSV answer, opened for streaming (the caller closes it).

    Only the wait for the first byte is bounded: a million rows take longer than any call.
    """
    request = downstream.client.build_request(
        "GET", downstream.base_urls["customers"] + "/customers/export.csv", params=list(params)
    )
    try:
        response = await downstream.client.send(request, stream=True)
    except httpx.TransportError as error:
        raise service_unavailable(
            "customers", f"cannot reach it ({type(error).__name__})"
        ) from None
    if not response.is_success:
        await response.aread()
        await response.aclose()
        raise problem_from("customers", response)
    return response


async def relay(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    finally:
        await response.aclose()
