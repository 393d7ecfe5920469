from services.runtime.migrations import run_env
from services.tickets.models import metadata

run_env(metadata)
