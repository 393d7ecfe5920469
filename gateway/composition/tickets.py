"""Tickets and messages through the gateway: calls to the tickets service, with the checks only
the gateway can make (the customer exists, the assignee is an operator)."""

from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter
from sqlalchemy import select

from gateway.composition.customers import get_customer
from gateway.downstream import Downstream, QueryParams, parse_as, segment
from gateway.models import Operator
from gateway.schemas.tickets import MessagePage, TicketPage
from services.runtime.db import Database
from services.runtime.problems import Problem, field_error

M = TypeVar("M", bound=BaseModel)


def customer_path(customer_id: str) -> str:
    return f"/customers/{segment(customer_id)}"


def ticket_path(customer_id: str, ticket_id: str) -> str:
    return f"{customer_path(customer_id)}/tickets/{segment(ticket_id)}"


async def require_customer(downstream: Downstream, customer_id: str) -> None:
    """404 (from the customers service) unless the customer exists."""
    await get_customer(downstream, customer_id)


async def require_operator(db: Database, username: str, *, field: str) -> None:
    async with db.sessions() as session:
        operator = await session.scalar(select(Operator).where(Operator.username == username))
    if operator is None or operator.disabled:
        raise Problem(
            422,
            "Validation failed",
            f"no active operator {username!r}",
            errors=[field_error(field, "not an active operator's username")],
        )


async def read(downstream: Downstream, path: str, model: type[M], params: QueryParams) -> M:
    data = await downstream.call("tickets", "GET", path, params=params)
    return parse_as(TypeAdapter(model), data, "tickets")


async def write(
    downstream: Downstream,
    method: str,
    path: str,
    model: type[M],
    body: dict[str, Any],
) -> M:
    """The tickets service's answer to a write."""
    data = await downstream.call("tickets", method, path, json_body=body)
    return parse_as(TypeAdapter(model), data, "tickets")


def page_params(limit: int, cursor: str | None) -> list[tuple[str, str | int]]:
    params: list[tuple[str, str | int]] = [("limit", limit)]
    if cursor:
        params.append(("cursor", cursor))
    return params


async def list_tickets(downstream: Downstream, params: QueryParams) -> TicketPage:
    return await read(downstream, "/tickets", TicketPage, params)


async def list_messages(
    downstream: Downstream, customer_id: str, *, limit: int, cursor: str | None
) -> MessagePage:
    path = f"{customer_path(customer_id)}/messages"
    return await read(downstream, path, MessagePage, page_params(limit, cursor))
