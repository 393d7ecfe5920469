"""The customers service as the gateway calls it: customers and the list, accounts, profiles,
bulk-add jobs, the CSV export. One method per call: its path, its answer's model."""

from typing import Any

import httpx
from pydantic import BaseModel

from gateway.clients.base import (
    CustomerTimelineClient,
    page_params,
    segment,
)
from gateway.downstream import QueryParams, bad_answer, problem_from, service_unavailable
from gateway.schemas.customer_batches import (
    CustomerBatch,
    CustomerBatchCreate,
    CustomerBatchItem,
    CustomerBatchItemPage,
)
from gateway.schemas.customer_records import (
    AccountPublic,
    AccountUpdate,
    CustomerUpdate,
    PasswordReset,
)
from gateway.schemas.customers import (
    CustomerCreate,
    CustomerCreated,
    CustomerPage,
    CustomerPublic,
    SubscriptionSummary,
)
from gateway.schemas.profiles import ProfileCreate, ProfileList, ProfilePublic, ProfileUpdate
from gateway.schemas.stats import CustomerStats
from services.customers import schemas as service
from services.customers.bulk import service as bulk_add
from services.customers.profiles import service as profiles


def _customer(customer_id: str) -> str:
    return f"/customers/{segment(customer_id)}"


def _profiles(customer_id: str, profile_id: str | None = None) -> str:
    base = f"{_customer(customer_id)}/profiles"
    return base if profile_id is None else f"{base}/{segment(profile_id)}"


class CustomersClient(CustomerTimelineClient):
    service = "customers"

    # --- customers ----------------------------------------------------------------------

    async def create_customer(self, payload: CustomerCreate) -> CustomerCreated:
        """The customer (with a generated password) and whether it is new (201, not a replay)."""
        response = await self._send(
            "POST",
            "/customers",
            body=payload.model_dump(mode="json"),
        )
        return self._parse_success(CustomerCreated, response)

    async def list_customers(self, params: QueryParams) -> bytes:
        """The service's page, as its bytes.

        The gateway adds nothing to a page, so it relays the answer instead of parsing and
        re-serializing 50 rows (the largest part of the gateway's cost per page). The shape is
        held by the contract between the two (CustomerPage in MIRRORS below, checked by
        gateway/tests/test_client_shapes.py), not re-checked per request; an answer that is not
        JSON is still a 502.
        """
        response = await self._send("GET", "/customers", params=params)
        if not response.is_success:
            raise problem_from(self.service, response)
        if response.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise bad_answer(self.service, "answered with something that is not JSON")
        return response.content

    async def get_customer(self, customer_id: str) -> CustomerPublic:
        return await self._call("GET", _customer(customer_id), CustomerPublic)

    async def update_customer(self, customer_id: str, payload: CustomerUpdate) -> CustomerPublic:
        return await self._call(
            "PATCH",
            _customer(customer_id),
            CustomerPublic,
            body=payload.model_dump(mode="json", exclude_unset=True),
        )

    async def erase_customer(self, customer_id: str) -> None:
        """204 also when it was erased before; 404 if never known."""
        await self._call_no_content("DELETE", _customer(customer_id))

    async def open_export(self, params: QueryParams) -> httpx.Response:
        """The CSV answer, opened for streaming (the caller closes it). Only the wait for the
        first byte is bounded: a million rows take longer than any call."""
        downstream = self.downstream
        request = downstream.client.build_request(
            "GET",
            downstream.base_urls[self.service] + "/customers/export.csv",
            params=list(params),
        )
        try:
            response = await downstream.client.send(request, stream=True)
        except httpx.TransportError as error:
            reason = f"cannot reach it ({type(error).__name__})"
            raise service_unavailable(self.service, reason) from None
        if not response.is_success:
            await response.aread()
            await response.aclose()
            raise problem_from(self.service, response)
        return response

    async def stats(self) -> CustomerStats:
        return await self._call("GET", "/stats", CustomerStats)

    # --- the account --------------------------------------------------------------------

    async def get_account(self, customer_id: str) -> AccountPublic:
        return await self._call("GET", f"{_customer(customer_id)}/account", AccountPublic)

    async def update_account(self, customer_id: str, payload: AccountUpdate) -> AccountPublic:
        return await self._call(
            "PATCH",
            f"{_customer(customer_id)}/account",
            AccountPublic,
            body=payload.model_dump(mode="json", exclude_unset=True),
        )

    async def reset_password(self, customer_id: str) -> PasswordReset:
        return await self._call(
            "POST",
            f"{_customer(customer_id)}/account/password",
            PasswordReset,
        )

    # --- profiles -----------------------------------------------------------------------

    async def list_profiles(self, customer_id: str) -> ProfileList:
        return await self._call("GET", _profiles(customer_id), ProfileList)

    async def create_profile(self, customer_id: str, payload: ProfileCreate) -> ProfilePublic:
        response = await self._send(
            "POST",
            _profiles(customer_id),
            body=payload.model_dump(mode="json"),
        )
        return self._parse_success(ProfilePublic, response)

    async def update_profile(
        self, customer_id: str, profile_id: str, payload: ProfileUpdate
    ) -> ProfilePublic:
        # Only what the caller sent: an absent field stays, an explicit null PIN removes it.
        body: dict[str, Any] = payload.model_dump(mode="json", exclude_unset=True)
        return await self._call(
            "PATCH", _profiles(customer_id, profile_id), ProfilePublic, body=body
        )

    async def delete_profile(self, customer_id: str, profile_id: str) -> None:
        await self._call_no_content("DELETE", _profiles(customer_id, profile_id))

    # --- bulk add -----------------------------------------------------------------------

    async def create_batch(self, payload: CustomerBatchCreate) -> CustomerBatch:
        """The job and whether it is new (202; a repeated Idempotency-Key: the first job)."""
        response = await self._send(
            "POST",
            "/customer-batches",
            body=payload.model_dump(mode="json"),
        )
        return self._parse_success(CustomerBatch, response)

    async def get_batch(self, batch_id: str) -> CustomerBatch:
        return await self._call("GET", f"/customer-batches/{segment(batch_id)}", CustomerBatch)

    async def list_batch_items(
        self, batch_id: str, *, limit: int, cursor: str | None
    ) -> CustomerBatchItemPage:
        return await self._call(
            "GET",
            f"/customer-batches/{segment(batch_id)}/items",
            CustomerBatchItemPage,
            params=page_params(limit, cursor),
        )


# Each shape the gateway repeats from the customers service, beside the service's own model:
# gateway/tests/test_client_shapes.py fails when the two differ (a field renamed on one side).
MIRRORS: dict[type[BaseModel], type[BaseModel]] = {
    CustomerCreate: service.CustomerCreate,
    CustomerPublic: service.CustomerPublic,
    CustomerCreated: service.CustomerCreated,
    SubscriptionSummary: service.SubscriptionSummary,
    CustomerPage: service.CustomerPage,
    CustomerUpdate: service.CustomerUpdate,
    AccountPublic: service.AccountPublic,
    AccountUpdate: service.AccountUpdate,
    PasswordReset: service.PasswordReset,
    ProfileCreate: profiles.ProfileCreate,
    ProfilePublic: profiles.ProfilePublic,
    ProfileList: profiles.ProfileList,
    CustomerBatch: bulk_add.BatchPublic,
    CustomerBatchItem: bulk_add.BatchItemPublic,
    CustomerBatchItemPage: bulk_add.BatchItemPage,
}
