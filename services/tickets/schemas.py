"""Response shapes of the tickets service's internal API."""

from datetime import datetime

from pydantic import BaseModel


class MessagePublic(BaseModel):
    id: str
    customer_id: str
    channel: str
    template: str | None
    title: str
    body: str
    device_id: str | None
    status: str
    sent_at: datetime
    read_at: datetime | None


class MessagePage(BaseModel):
    items: list[MessagePublic]
    next_cursor: str | None
