"""The customers service's database, migrated; parametrized over SQLite and PostgreSQL."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.customers import models
from services.customers.app import SPEC
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.tests._helpers import BACKENDS, migrated_database


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with migrated_database(
        request,
        tmp_path,
        name="customers",
        migrations_dir=SPEC.migrations_dir,
        metadata=SPEC.metadata,
    ) as database:
        yield database


@pytest.fixture
def outbox() -> Outbox:
    return Outbox(models.outbox, source="/services/customers", on_commit=lambda: None)
