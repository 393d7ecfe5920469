"""The billing service as the gateway calls it: the catalog, the check of a sale, a customer's
subscription and its actions, the ledger and invoices."""

from typing import Literal

from pydantic import BaseModel

from gateway.clients.base import (
    CustomerTimelineClient,
    page_params,
    segment,
)
from gateway.schemas.catalog import (
    Plan,
    PlanCreate,
    PlanUpdate,
    Product,
    ProductCreate,
    ProductUpdate,
    Webshop,
    WebshopCreate,
    WebshopUpdate,
)
from gateway.schemas.customers import Transaction, TransactionPage
from gateway.schemas.stats import BillingStats, DayRevenue
from gateway.schemas.subscriptions import (
    ActionResult,
    CancelRequest,
    ChangeRequest,
    ExpiryRequest,
    ExtraOnSubscription,
    ExtraRequest,
    Invoice,
    InvoiceLine,
    InvoicePage,
    LedgerEntry,
    RenewRequest,
    ScheduledChange,
    SellRequest,
    SubscriptionDetail,
    WebshopMove,
)
from services.billing import schemas as service
from services.runtime.problems import Problem

# What is sold: the fields of a sale billing checks against its catalog.
SALE_FIELDS = {"webshop_id", "product_id", "plan_id", "extra_product_ids"}


def _webshop(webshop_id: str) -> str:
    return f"/webshops/{segment(webshop_id)}"


def _product(product_id: str) -> str:
    return f"/products/{segment(product_id)}"


def _plan(product_id: str, plan_id: str) -> str:
    return f"{_product(product_id)}/plans/{segment(plan_id)}"


def _subscription(customer_id: str) -> str:
    return f"/customers/{segment(customer_id)}/subscription"


def _patch(body: BaseModel) -> object:
    return body.model_dump(mode="json", exclude_unset=True)


class BillingClient(CustomerTimelineClient):
    service = "billing"

    # --- the catalog --------------------------------------------------------------------

    async def list_webshops(self) -> list[Webshop]:
        return await self._call("GET", "/webshops", list[Webshop])

    async def create_webshop(self, payload: WebshopCreate) -> Webshop:
        return await self._call("POST", "/webshops", Webshop, body=payload.model_dump(mode="json"))

    async def update_webshop(self, webshop_id: str, payload: WebshopUpdate) -> Webshop:
        return await self._call("PATCH", _webshop(webshop_id), Webshop, body=_patch(payload))

    async def archive_webshop(self, webshop_id: str) -> Webshop:
        return await self._call("DELETE", _webshop(webshop_id), Webshop)

    async def list_products(self, kind: Literal["base", "extra"] | None = None) -> list[Product]:
        params = [("kind", kind)] if kind else None
        return await self._call("GET", "/products", list[Product], params=params)

    async def get_product(self, product_id: str) -> Product:
        return await self._call("GET", _product(product_id), Product)

    async def create_product(self, payload: ProductCreate) -> Product:
        return await self._call("POST", "/products", Product, body=payload.model_dump(mode="json"))

    async def update_product(self, product_id: str, payload: ProductUpdate) -> Product:
        return await self._call("PATCH", _product(product_id), Product, body=_patch(payload))

    async def archive_product(self, product_id: str) -> Product:
        return await self._call("DELETE", _product(product_id), Product)

    async def add_plan(self, product_id: str, payload: PlanCreate) -> Product:
        path = f"{_product(product_id)}/plans"
        return await self._call("POST", path, Product, body=_patch(payload))

    async def update_plan(self, product_id: str, plan_id: str, payload: PlanUpdate) -> Product:
        return await self._call("PATCH", _plan(product_id, plan_id), Product, body=_patch(payload))

    async def archive_plan(self, product_id: str, plan_id: str) -> Product:
        return await self._call("DELETE", _plan(product_id, plan_id), Product)

    async def check_sale(self, sale: BaseModel) -> None:
        """Nothing if the catalog allows the sale (webshop, product, plan, extras); billing's
        problem (422 naming the field) if not."""
        body = sale.model_dump(mode="json", include=SALE_FIELDS)
        await self._call("POST", "/orders/check", type(None), body=body)

    # --- a customer's subscription ------------------------------------------------------

    async def get_subscription(self, customer_id: str) -> SubscriptionDetail:
        return await self._call("GET", _subscription(customer_id), SubscriptionDetail)

    async def find_subscription(self, customer_id: str) -> SubscriptionDetail | None:
        """The subscription, or None if the customer has none (yet)."""
        try:
            return await self.get_subscription(customer_id)
        except Problem as problem:
            if problem.status == 404:
                return None
            raise

    async def sell(
        self,
        customer_id: str,
        payload: SellRequest,
        *,
        webshop_id: str,
    ) -> ActionResult:
        """A new subscription for a customer with none running, sold through `webshop_id`
        (the customer's webshop: the gateway reads it from the customers service)."""
        return await self._call(
            "POST",
            _subscription(customer_id),
            ActionResult,
            body={**payload.model_dump(mode="json"), "webshop_id": webshop_id},
        )

    async def webshop_move(self, customer_id: str, webshop_id: str) -> WebshopMove:
        """Billing's verdict on moving the customer to `webshop_id` (nothing is saved)."""
        path = f"/customers/{segment(customer_id)}/webshop-move"
        return await self._call("GET", path, WebshopMove, params=[("webshop_id", webshop_id)])

    async def renew(self, customer_id: str, payload: RenewRequest) -> ActionResult:
        return await self._act("POST", f"{_subscription(customer_id)}/renew", payload)

    async def change(self, customer_id: str, payload: ChangeRequest) -> ActionResult:
        return await self._act("POST", f"{_subscription(customer_id)}/change", payload)

    async def set_expiry(self, customer_id: str, payload: ExpiryRequest) -> ActionResult:
        return await self._act("PUT", f"{_subscription(customer_id)}/expiry", payload)

    async def add_extra(self, customer_id: str, payload: ExtraRequest) -> ActionResult:
        return await self._act("POST", f"{_subscription(customer_id)}/extras", payload)

    async def remove_extra(self, customer_id: str, product_id: str) -> ActionResult:
        path = f"{_subscription(customer_id)}/extras/{segment(product_id)}"
        return await self._act("DELETE", path, None)

    async def cancel(self, customer_id: str, payload: CancelRequest) -> ActionResult:
        return await self._act("POST", f"{_subscription(customer_id)}/cancel", payload)

    async def _act(self, method: str, path: str, body: BaseModel | None) -> ActionResult:
        return await self._call(
            method,
            path,
            ActionResult,
            body=body.model_dump(mode="json") if body is not None else None,
        )

    # --- money --------------------------------------------------------------------------

    async def list_transactions(
        self, customer_id: str, *, limit: int, cursor: str | None
    ) -> TransactionPage:
        path = f"/customers/{segment(customer_id)}/transactions"
        return await self._call("GET", path, TransactionPage, params=page_params(limit, cursor))

    async def list_invoices(
        self, customer_id: str, *, limit: int, cursor: str | None
    ) -> InvoicePage:
        path = f"/customers/{segment(customer_id)}/invoices"
        return await self._call("GET", path, InvoicePage, params=page_params(limit, cursor))

    async def stats(self) -> BillingStats:
        return await self._call("GET", "/stats", BillingStats)


# Each shape the gateway repeats from billing, beside billing's own model:
# gateway/tests/test_client_shapes.py fails when the two differ (a field renamed on one side).
MIRRORS: dict[type[BaseModel], type[BaseModel]] = {
    Plan: service.PlanPublic,
    Product: service.ProductPublic,
    Webshop: service.WebshopPublic,
    PlanCreate: service.PlanIn,
    ProductCreate: service.ProductIn,
    ProductUpdate: service.ProductUpdate,
    PlanUpdate: service.PlanUpdate,
    WebshopCreate: service.WebshopIn,
    WebshopUpdate: service.WebshopUpdate,
    SubscriptionDetail: service.SubscriptionPublic,
    ExtraOnSubscription: service.ExtraPublic,
    ScheduledChange: service.ScheduledChange,
    Transaction: service.TransactionPublic,
    LedgerEntry: service.TransactionPublic,
    TransactionPage: service.TransactionPage,
    RenewRequest: service.RenewIn,
    ChangeRequest: service.ChangeIn,
    ExpiryRequest: service.ExpiryIn,
    ExtraRequest: service.ExtraIn,
    CancelRequest: service.CancelIn,
    ActionResult: service.ActionResult,
    InvoiceLine: service.InvoiceLine,
    Invoice: service.Invoice,
    InvoicePage: service.InvoicePage,
    DayRevenue: service.RevenueDay,
    BillingStats: service.BillingStats,
    WebshopMove: service.WebshopMove,
}

# The writes whose body the gateway completes, and that field's name: a sale goes through the
# customer's own webshop.
WRITES: dict[type[BaseModel], tuple[type[BaseModel], str]] = {
    SellRequest: (service.OpenIn, "webshop_id"),
}
