"""The customer details page, composed from every service at once.

The customer record is the page: without it there is nothing to show (404 or 503). Each other
section comes from its own service in parallel, bounded by the per-call timeout, and a section
whose service fails is marked unavailable while the rest of the page is served.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import TypeAdapter

from gateway.composition.customers import get_customer
from gateway.downstream import Downstream, parse_as, segment
from gateway.schemas.customers import DevicePage, MessagePage, Subscription, TransactionPage
from gateway.schemas.details import CustomerDetails, DetailSections, SectionOk, SectionUnavailable
from services.runtime.problems import Problem

# The first page of each list the details show; the full lists have their own endpoints.
DETAILS_PAGE_SIZE = 20


async def _section(
    service: str, fetch: Callable[[], Awaitable[Any]], section: type[SectionOk[Any]]
) -> SectionOk[Any] | SectionUnavailable:
    """`section` filled by `fetch`, or unavailable with the reason if that fails."""
    try:
        data = await fetch()
        filled: SectionOk[Any] = parse_as(TypeAdapter(section), {"data": data}, service)
        return filled
    except Problem as problem:
        return SectionUnavailable(reason=problem.detail or problem.title)
    except Exception as error:
        # Whatever else goes wrong with one section must not take the page down.
        return SectionUnavailable(reason=f"the {service} service failed: {type(error).__name__}")


async def compose_details(downstream: Downstream, customer_id: str) -> CustomerDetails:
    path = f"/customers/{segment(customer_id)}"
    first_page = [("limit", DETAILS_PAGE_SIZE)]

    async def subscription() -> Any:
        try:
            return await downstream.call("billing", "GET", f"{path}/subscription")
        except Problem as problem:
            if problem.status == 404:
                return None  # no subscription (yet) is an answer, not a failure
            raise

    async def transactions() -> Any:
        return await downstream.call("billing", "GET", f"{path}/transactions", params=first_page)

    async def messages() -> Any:
        return await downstream.call("tickets", "GET", f"{path}/messages", params=first_page)

    async def devices() -> Any:
        return await downstream.call("activity", "GET", f"{path}/devices")

    # The sections start with the customer record rather than after it: the page takes as long
    # as its slowest call, not the sum of two rounds.
    sections = asyncio.gather(
        _section("billing", subscription, SectionOk[Subscription | None]),
        _section("billing", transactions, SectionOk[TransactionPage]),
        _section("tickets", messages, SectionOk[MessagePage]),
        _section("activity", devices, SectionOk[DevicePage]),
    )
    try:
        customer = await get_customer(downstream, customer_id)
    except BaseException:
        sections.cancel()
        # Retrieve the cancelled result so asyncio does not warn about it.
        await asyncio.gather(sections, return_exceptions=True)
        raise
    subscription_section, transactions_section, messages_section, devices_section = await sections
    return CustomerDetails(
        **customer.model_dump(),
        sections=DetailSections(
            subscription=subscription_section,
            transactions=transactions_section,
            messages=messages_section,
            devices=devices_section,
        ),
    )
