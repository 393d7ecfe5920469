"""A SQLite database holds personal data and password hashes: only its owner may read it."""

import stat
from pathlib import Path

from sqlalchemy import text

from services.runtime.db import Database


async def test_a_new_sqlite_database_and_its_directory_are_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "customers.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        async with database.transaction() as session:
            await session.execute(text("CREATE TABLE t (x INTEGER)"))
            await session.execute(text("INSERT INTO t VALUES (1)"))
        files = [path, *path.parent.glob("customers.db-*")]
        assert len(files) >= 2  # the WAL journal too
        for file in files:
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    finally:
        await database.dispose()
