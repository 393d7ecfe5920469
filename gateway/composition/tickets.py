"""The checks of a ticket or message only the gateway can make: the customer exists, the
assignee is an active operator (the calls themselves are gateway.clients.tickets)."""

from sqlalchemy import select

from gateway.clients import ServiceClients
from gateway.models import Operator
from services.runtime.db import Database
from services.runtime.problems import Problem, field_error


async def require_customer(services: ServiceClients, customer_id: str) -> None:
    """404 (from the customers service) unless the customer exists."""
    await services.customers.get_customer(customer_id)


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
