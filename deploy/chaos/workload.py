"""The campaign's steady workload, each client recording what was acknowledged:

- a webshop: `order.paid.v1` for new buyers and renewals of earlier buyers onto webshop.orders,
  idempotent producer with acks=all, *acknowledged* once the send returns;
- an operator per gateway: sign in, add customers, renew and change their subscriptions, every
  write with an Idempotency-Key and retried (same key) on 5xx, 409 "in progress" and connection
  errors, through the other gateway when its own does not answer; *acknowledged* on a 2xx;
- the TV apps of the operators' customers (deploy/simulator): profiles, devices, heartbeats,
  favorites and the rest onto apps.events.

Everything is paced (events per second) and stops when the campaign's `stop` event is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import httpx
from aiokafka import AIOKafkaProducer

from deploy.chaos.history import History
from deploy.chaos.kafka_clients import KafkaClients
from deploy.simulator.apps import AppSimulator, made_up
from services.contracts.envelope import CloudEvent
from services.contracts.topics import APPS_EVENTS, WEBSHOP_ORDERS

WEBSHOP: Final = "shop-eu"
# What the demo catalog sells in the webshop (the price must match the catalog's).
ORDER_PRODUCT: Final = ("premium", "premium-1m", "19.99", "EUR")
OPERATOR_PRODUCT: Final = ("basic", "basic-1m")
CHANGE_PRODUCT: Final = ("premium", "premium-1m")
EMAIL_DOMAIN: Final = "chaos.example"
# How long one client operation may take, retries included, before its outcome is "unknown".
OPERATION_SECONDS: Final = 60.0
SEND_SECONDS: Final = 45.0


async def _pace(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def order_paid(order_id: str, buyer: Mapping[str, str]) -> dict[str, Any]:
    """An order.paid.v1 CloudEvent as the webshop sends it."""
    product_id, plan_id, amount, currency = ORDER_PRODUCT
    now = datetime.now(UTC).isoformat()
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": f"/webshops/{WEBSHOP}",
        "type": "order.paid.v1",
        "time": now,
        "data": {
            "order_id": order_id,
            "webshop_id": WEBSHOP,
            "buyer": dict(buyer),
            "product_id": product_id,
            "plan_id": plan_id,
            "extra_product_ids": [],
            "amount": amount,
            "currency": currency,
            "paid_at": now,
            "payment": {"provider": "card", "reference": f"pay-{order_id}"},
        },
    }


class Webshop:
    """Orders at `rate` per second: a renewal of an acknowledged buyer with `renewals` odds,
    else a new buyer. A send that fails is sent again (same event) up to three times."""

    def __init__(
        self, history: History, kafka: KafkaClients, *, seed: int, rate: float, renewals: float
    ) -> None:
        self.history = history
        self.kafka = kafka
        self.seed = seed
        self.rng = random.Random(f"webshop-{seed}")
        self.rate = rate
        self.renewals = renewals
        self.buyers: list[dict[str, str]] = []

    async def run(self, stop: asyncio.Event) -> None:
        producer = self.kafka.producer()
        await producer.start()
        try:
            number = 0
            while not stop.is_set():
                number += 1
                await self._order(producer, number)
                await _pace(stop, 1.0 / self.rate)
        finally:
            await producer.stop()

    async def _order(self, producer: AIOKafkaProducer, number: int) -> None:
        renewal = bool(self.buyers) and self.rng.random() < self.renewals
        if renewal:
            buyer = self.rng.choice(self.buyers)
        else:
            name = f"buyer-{self.seed}-{number:05d}"
            buyer = {
                "external_id": name,
                "email": f"{name}@{EMAIL_DOMAIN}",
                "first_name": "Chaos",
                "last_name": f"Buyer{number}",
            }
        order_id = f"order-{self.seed}-{number:05d}"
        event = order_paid(order_id, buyer)
        value = json.dumps(event).encode()
        key = buyer["external_id"].encode()
        kind = "renewal" if renewal else "new"
        self.history.record(
            "webshop",
            "invoke",
            "order",
            order_id=order_id,
            buyer=buyer["external_id"],
            kind=kind,
            event_id=event["id"],
        )
        error = ""
        for _attempt in range(3):
            try:
                metadata = await asyncio.wait_for(
                    producer.send_and_wait(WEBSHOP_ORDERS, value, key=key), SEND_SECONDS
                )
            except Exception as failure:  # the outcome is unknown: the broker may have it
                error = repr(failure)
                continue
            self.history.record(
                "webshop",
                "ok",
                "order",
                order_id=order_id,
                buyer=buyer["external_id"],
                kind=kind,
                partition=metadata.partition,
                offset=metadata.offset,
            )
            if not renewal:
                self.buyers.append(buyer)
            return
        self.history.record("webshop", "info", "order", order_id=order_id, error=error)


class Operator:
    """An operator signed in at gateway `home`: adds customers, renews and changes them."""

    def __init__(
        self,
        history: History,
        gateways: Mapping[str, str],
        home: str,
        admin: tuple[str, str],
        *,
        seed: int,
        rate: float,
        on_customer: Callable[[str], None] = lambda _id: None,
    ) -> None:
        self.history = history
        self.gateways = dict(gateways)
        self.home = home
        self.admin = admin
        self.seed = seed
        self.rng = random.Random(f"operator-{home}-{seed}")
        self.rate = rate
        self.on_customer = on_customer
        self.process = f"operator-{home}"
        self.customers: list[str] = []
        self.token = ""

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=15.0) as http:
            number = 0
            while not stop.is_set():
                number += 1
                await self._step(http, number)
                await _pace(stop, 1.0 / self.rate)

    async def _step(self, http: httpx.AsyncClient, number: int) -> None:
        if len(self.customers) < 3 or self.rng.random() < 0.35:
            await self._create(http, number)
            return
        customer_id = self.rng.choice(self.customers)
        if self.rng.random() < 0.75:
            product_id, plan_id = OPERATOR_PRODUCT
            body: dict[str, Any] = {
                "product_id": product_id,
                "plan_id": plan_id,
                "extra_product_ids": [],
            }
            await self._write(http, "renew", f"/customers/{customer_id}/subscription/renew", body)
        else:
            product_id, plan_id = CHANGE_PRODUCT
            body = {
                "product_id": product_id,
                "plan_id": plan_id,
                "extra_product_ids": [],
                "starts": "at_expiry",
            }
            await self._write(http, "change", f"/customers/{customer_id}/subscription/change", body)

    async def _create(self, http: httpx.AsyncClient, number: int) -> None:
        product_id, plan_id = OPERATOR_PRODUCT
        email = f"op-{self.home}-{self.seed}-{number:05d}@{EMAIL_DOMAIN}"
        body: dict[str, Any] = {
            "webshop_id": WEBSHOP,
            "product_id": product_id,
            "plan_id": plan_id,
            "extra_product_ids": [],
            "info": {"first_name": "Chaos", "last_name": f"Op{number}", "email": email},
            "credentials": None,
        }
        answer = await self._write(http, "create", "/customers", body, email=email)
        if answer is not None:
            customer_id = str(answer["id"])
            self.customers.append(customer_id)
            self.on_customer(customer_id)

    async def _write(
        self, http: httpx.AsyncClient, f: str, path: str, body: dict[str, Any], **value: Any
    ) -> dict[str, Any] | None:
        """One write, retried with its Idempotency-Key until a definite answer; returns the
        body of a 2xx (recorded `ok`), None after a 4xx (`fail`) or when out of time (`info`)."""
        key = f"chaos-{uuid.uuid4()}"
        customer_id = path.split("/")[2] if path.count("/") > 1 else None
        self.history.record(self.process, "invoke", f, key=key, customer_id=customer_id, **value)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + OPERATION_SECONDS
        gateway = self.home
        delay = 0.25
        last = ""
        attempts = 0
        # What each attempt that was tried again got: a status, or the error's class.
        retried_on: list[str] = []
        while loop.time() < deadline:
            attempts += 1
            try:
                if not self.token:
                    await self._sign_in(http, gateway)
                response = await http.post(
                    f"{self.gateways[gateway]}/api/v1{path}",
                    json=body,
                    headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": key},
                )
            except httpx.HTTPError as error:
                # This gateway does not answer: the other one shares the services' key store.
                last = repr(error)
                retried_on.append(type(error).__name__)
                gateway = next(g for g in self.gateways if g != gateway)
            else:
                status = response.status_code
                if 200 <= status < 300:
                    answer: dict[str, Any] = response.json()
                    ok_id = customer_id or answer.get("id")
                    self.history.record(
                        self.process,
                        "ok",
                        f,
                        key=key,
                        customer_id=ok_id,
                        status=status,
                        attempts=attempts,
                        retried_on=retried_on,
                        via=gateway,
                        **value,
                    )
                    return answer
                retry = status >= 500 or (status == 409 and "Retry-After" in response.headers)
                if status == 401:
                    self.token = ""
                    retry = True
                if not retry:
                    self.history.record(
                        self.process,
                        "fail",
                        f,
                        key=key,
                        customer_id=customer_id,
                        status=status,
                        detail=response.text[:300],
                        **value,
                    )
                    return None
                last = f"{status} {response.text[:200]}"
                retried_on.append(str(status))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 4.0)
        self.history.record(
            self.process,
            "info",
            f,
            key=key,
            customer_id=customer_id,
            error=last,
            retried_on=retried_on,
            **value,
        )
        return None

    async def _sign_in(self, http: httpx.AsyncClient, gateway: str) -> None:
        username, password = self.admin
        response = await http.post(
            f"{self.gateways[gateway]}/api/v1/auth/token",
            data={"username": username, "password": password},
        )
        if response.status_code != 200:
            raise httpx.HTTPError(f"sign-in answered {response.status_code}")
        self.token = str(response.json()["access_token"])


class Apps:
    """The TV apps of the operators' customers: simulated app events at `rate` per second."""

    def __init__(self, history: History, kafka: KafkaClients, *, seed: int, rate: float):
        self.history = history
        self.kafka = kafka
        self.rate = rate
        self.simulator: AppSimulator | None = None
        self.seed = seed
        self.pending: list[str] = []

    def add_customer(self, customer_id: str) -> None:
        self.pending.append(customer_id)

    def _take_new_customers(self) -> AppSimulator | None:
        for customer_id in self.pending:
            if self.simulator is None:
                self.simulator = AppSimulator([made_up(customer_id)], seed=self.seed)
            else:
                self.simulator.add(made_up(customer_id))
        self.pending.clear()
        return self.simulator

    async def run(self, stop: asyncio.Event) -> None:
        producer = self.kafka.producer()
        await producer.start()
        try:
            while not stop.is_set():
                simulator = self._take_new_customers()
                if simulator is not None:
                    [(customer_id, event)] = list(simulator.envelopes(1))
                    await self._send(producer, customer_id, event)
                await _pace(stop, 1.0 / self.rate)
        finally:
            await producer.stop()

    async def _send(self, producer: AIOKafkaProducer, key: str, event: CloudEvent) -> None:
        try:
            metadata = await asyncio.wait_for(
                producer.send_and_wait(APPS_EVENTS, event.to_bytes(), key=key.encode()),
                SEND_SECONDS,
            )
        except Exception as error:
            self.history.record(
                "apps", "info", "app_event", event_id=event.id, key=key, error=repr(error)
            )
            return
        self.history.record(
            "apps",
            "ok",
            "app_event",
            event_id=event.id,
            key=key,
            event_type=event.type,
            partition=metadata.partition,
            offset=metadata.offset,
        )
