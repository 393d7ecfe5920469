"""Migration ee1f3b7f49b8: the profiles activity already holds items of become known, since
their profile.created.v1 was consumed before activity followed it."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select

from services.activity.app import SPEC
from services.activity.models import KnownProfile, Recording, SavedItem
from services.runtime.db import Database
from services.runtime.migrations import alembic_config
from services.runtime.tests._helpers import BACKENDS

BEFORE = "a81fec53a60e"
AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_profiles_with_items_or_recordings_become_known(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'activity.db'}"
    else:
        url = request.getfixturevalue("new_postgres_database")("test_activity_migration")
    config = alembic_config(SPEC.migrations_dir, url)
    await asyncio.to_thread(command.upgrade, config, BEFORE)
    db = Database(url)
    try:
        async with db.transaction() as session:
            for n, (list_name, profile_id) in enumerate(
                [("favorites", "p-1"), ("watchlist", "p-1"), ("favorites", "p-2")]
            ):
                session.add(
                    SavedItem(
                        id=f"item-{n}",
                        customer_id="c-1",
                        list_name=list_name,
                        profile_id=profile_id,
                        item_type="movie",
                        item_id=f"m-{n}",
                        title=None,
                        added_at=AT,
                    )
                )
            session.add(
                Recording(
                    customer_id="c-2",
                    id="r-1",
                    profile_id="p-3",
                    channel_id="ch-1",
                    programme_id="prog-1",
                    title="Show",
                    starts_at=AT,
                    ends_at=AT,
                    state="scheduled",
                    size_bytes=None,
                    failure_reason=None,
                    scheduled_at=AT,
                    finished_at=None,
                )
            )
        await asyncio.to_thread(command.upgrade, config, "head")

        async with db.sessions() as session:
            known = (await session.scalars(select(KnownProfile))).all()
        assert sorted((k.customer_id, k.profile_id, k.known_at) for k in known) == [
            ("c-1", "p-1", AT),
            ("c-1", "p-2", AT),
            ("c-2", "p-3", AT),
        ]
    finally:
        await db.dispose()
