"""Typed clients of the four services: one module per service with one method per call (its
path, its answer's model, its errors), built once on the gateway's shared HTTP client."""

from dataclasses import dataclass

from gateway.clients.activity import ActivityClient
from gateway.clients.billing import BillingClient
from gateway.clients.customers import CustomersClient
from gateway.clients.tickets import TicketsClient
from gateway.downstream import Downstream


@dataclass(frozen=True)
class ServiceClients:
    customers: CustomersClient
    billing: BillingClient
    tickets: TicketsClient
    activity: ActivityClient

    @classmethod
    def over(cls, downstream: Downstream) -> "ServiceClients":
        return cls(
            CustomersClient(downstream),
            BillingClient(downstream),
            TicketsClient(downstream),
            ActivityClient(downstream),
        )

    @property
    def downstream(self) -> Downstream:
        """The transport they share (timeouts, the services' base URLs)."""
        return self.customers.downstream

    def by_name(
        self, name: str
    ) -> "CustomersClient | BillingClient | TicketsClient | ActivityClient":
        client: CustomersClient | BillingClient | TicketsClient | ActivityClient = getattr(
            self, name
        )
        return client
