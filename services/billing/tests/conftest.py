"""Billing's database, migrated, with the demo catalog; parametrized over SQLite and PostgreSQL."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.billing import models
from services.billing.app import SPEC
from services.billing.demo_catalog import seed_if_empty
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.tests._helpers import BACKENDS, migrated_database


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with migrated_database(
        request,
        tmp_path,
        name="billing",
        migrations_dir=SPEC.migrations_dir,
        metadata=SPEC.metadata,
    ) as database:
        async with database.transaction() as session:
            assert await seed_if_empty(session)
        yield database


@pytest.fixture
def outbox() -> Outbox:
    return Outbox(models.outbox, source="/services/billing", on_commit=lambda: None)
