"""Alembic environment of the gateway's database (the shared runtime does the work)."""

from gateway.models import metadata
from services.runtime.migrations import run_env

run_env(metadata)
