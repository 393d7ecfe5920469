"""Settings of the tickets service: the runtime's, under the tickets' own variable names."""

from typing import ClassVar

from pydantic import AliasChoices, Field

from services.runtime.settings import ConsumerWorkers, Port, ServiceSettings


class TicketsSettings(ServiceSettings):
    service_name: ClassVar[str] = "tickets"

    database_url: str = Field("", validation_alias="TICKETS_DATABASE_URL")
    host: str = Field("127.0.0.1", validation_alias="TICKETS_HOST")
    port: Port = Field(8103, validation_alias="TICKETS_PORT")
    consumer_workers: ConsumerWorkers = Field(
        3, validation_alias=AliasChoices("TICKETS_CONSUMER_WORKERS", "CONSUMER_WORKERS")
    )
