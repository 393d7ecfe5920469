"""Settings of the customers service: the runtime's, under the customers' own variable names."""

from typing import ClassVar

from pydantic import AliasChoices, Field

from services.runtime.settings import ConsumerWorkers, Port, ServiceSettings


class CustomersSettings(ServiceSettings):
    service_name: ClassVar[str] = "customers"

    database_url: str = Field("", validation_alias="CUSTOMERS_DATABASE_URL")
    host: str = Field("127.0.0.1", validation_alias="CUSTOMERS_HOST")
    port: Port = Field(8101, validation_alias="CUSTOMERS_PORT")
    consumer_workers: ConsumerWorkers = Field(
        3, validation_alias=AliasChoices("CUSTOMERS_CONSUMER_WORKERS", "CONSUMER_WORKERS")
    )
    # Threads hashing passwords with argon2 (a burst of new webshop buyers); 0: one per core.
    hash_workers: int = Field(0, ge=0, le=64, validation_alias="CUSTOMERS_HASH_WORKERS")
