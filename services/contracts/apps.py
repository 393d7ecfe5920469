"""Commands to the TV apps on `apps.commands` (key: customer id)."""

from pydantic import Field

from services.contracts.envelope import EventData


class MessageShowV1(EventData):
    event_type = "message.show.v1"

    customer_id: str
    message_id: str
    device_id: str | None = None
    title: str = Field(max_length=200)
    body: str = Field(max_length=4000)
