"""Service replicas upgrade their database at start, possibly at the same moment."""

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

BILLING_MIGRATIONS = Path(__file__).resolve().parents[2] / "billing" / "migrations"


@pytest.mark.postgres
async def test_replicas_upgrading_one_postgres_database_at_once_all_succeed(
    new_postgres_database: Callable[[str], str],
) -> None:
    url = new_postgres_database("migrate_race")

    # Separate processes, as replicas are: Alembic's context is global to a process.
    script = (
        "from services.runtime import migrations; "
        f"migrations.upgrade({str(BILLING_MIGRATIONS)!r}, {url!r})"
    )
    replicas = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", script) for _ in range(4)
    ]
    assert [await replica.wait() for replica in replicas] == [0, 0, 0, 0]

    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            versions = await connection.execute(text("SELECT version_num FROM alembic_version"))
            assert len(versions.all()) == 1
    finally:
        await engine.dispose()
