"""Events of the tickets service on `tickets.events` (key: customer id)."""

from datetime import datetime
from typing import Literal

from services.contracts.envelope import EventData


class MessageSentV1(EventData):
    event_type = "message.sent.v1"

    customer_id: str
    message_id: str
    channel: Literal["in_app", "email", "sms"]
    template: str | None
    sent_at: datetime
