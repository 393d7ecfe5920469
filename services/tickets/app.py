"""The tickets service process: `python -m services.tickets.app`."""

from pathlib import Path

from services.contracts import topics
from services.contracts.apps import MessageShowV1
from services.contracts.tickets import MessageSentV1
from services.runtime.service_app import ServiceSpec, run
from services.tickets import handlers
from services.tickets.config import TicketsSettings
from services.tickets.models import metadata
from services.tickets.router import router

SPEC = ServiceSpec(
    name="tickets",
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    router=router,
    register_handlers=handlers.register,
    settings=TicketsSettings,
    publishes=[(topics.APPS_COMMANDS, MessageShowV1), (topics.TICKETS_EVENTS, MessageSentV1)],
)


if __name__ == "__main__":
    run(SPEC)
