"""Autogenerate a migration: `python -m deploy.make_migration customers|...|gateway "message"`.

Compares the models with a scratch SQLite database at the newest revision.
"""

import importlib
import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command

from services.runtime.migrations import alembic_config


def main(service: str, message: str) -> None:
    if service == "gateway":
        migrations_dir: Path = importlib.import_module("gateway.app").MIGRATIONS_DIR
    else:
        migrations_dir = importlib.import_module(f"services.{service}.app").SPEC.migrations_dir
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'scratch.db'}"
        config = alembic_config(migrations_dir, url)
        command.upgrade(config, "head")
        script = command.revision(config, message=message, autogenerate=True)
    # Generated code is held to the same ruff rules as the rest.
    paths = [s.path for s in (script if isinstance(script, list) else [script]) if s is not None]
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", *paths], check=True)
    subprocess.run(
        [sys.executable, "-m", "ruff", "check", "-q", "--fix", "--unsafe-fixes", *paths], check=True
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "initial")
