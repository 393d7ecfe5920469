"""The service's metadata holds every table its migrations create: each feature package's models
join it through `Base` when the app imports them, with no module importing them back."""

from pathlib import Path

from sqlalchemy import create_engine, inspect

from services.customers.app import SPEC
from services.runtime import migrations


def test_the_service_metadata_has_every_table_the_migrations_create(tmp_path: Path) -> None:
    database = tmp_path / "customers.db"
    migrations.upgrade(SPEC.migrations_dir, f"sqlite+aiosqlite:///{database}")
    engine = create_engine(f"sqlite:///{database}")
    try:
        created = set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()
    assert created == set(SPEC.metadata.tables)
