"""The activity service's database, migrated; parametrized over SQLite and PostgreSQL."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.activity import models
from services.activity.app import SPEC
from services.runtime.db import Database
from services.runtime.outbox import Outbox
from services.runtime.tests._helpers import BACKENDS, migrated_database


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with migrated_database(
        request,
        tmp_path,
        name="activity",
        migrations_dir=SPEC.migrations_dir,
        metadata=SPEC.metadata,
    ) as database:
        yield database


@pytest.fixture
def outbox() -> Outbox:
    return Outbox(models.outbox, source="/services/activity", on_commit=lambda: None)
