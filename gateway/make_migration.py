"""Autogenerate a gateway migration: `python -m gateway.make_migration "message"`.

The gateway's counterpart of deploy/make_migration.py (which finds a service's migrations via
`services.<name>.app.SPEC`): compares the models with a scratch SQLite database at head.
"""

import sys
import tempfile
from pathlib import Path

from alembic import command

from gateway.app import MIGRATIONS_DIR
from services.runtime.migrations import alembic_config


def main(message: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        config = alembic_config(MIGRATIONS_DIR, f"sqlite+aiosqlite:///{Path(scratch) / 'db'}")
        command.upgrade(config, "head")
        command.revision(config, message=message, autogenerate=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "change")
