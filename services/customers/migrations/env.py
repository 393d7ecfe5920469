from services.customers.app import SPEC
from services.runtime.migrations import run_env

run_env(SPEC.metadata)
