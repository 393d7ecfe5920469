# One Makefile; CI (.ci/run) uses the same targets.
PYTHON ?= python
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: help install run cluster test test-unit lint typecheck bench simulate dlq clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.run/.installed: pyproject.toml deploy/local/install-prerequisites.sh
	bash deploy/local/install-prerequisites.sh
	$(PYTHON) -m pip install -q -e '.[dev]'
	@mkdir -p .run && touch $@

install: .run/.installed ## install the project and its dev tools
	$(PYTHON) -m deploy.local fetch-kafka

run: install ## start Kafka, the four services and the gateway (SQLite); Ctrl-C stops all
	$(PYTHON) -m deploy.local.run_system

cluster: install ## three Kafka brokers, PostgreSQL, two replicas of each service and gateway; Ctrl-C stops all
	$(PYTHON) -m deploy.local.run_cluster

test: install lint ## lint, then all tests: unit, and system tests on real Kafka, PostgreSQL, SQLite
	$(PYTHON) -m pytest -q -ra

test-unit: .run/.installed ## only the tests that need no server
	$(PYTHON) -m pytest -q -m "not kafka and not postgres and not system"

lint: .run/.installed ## ruff and mypy
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy services gateway deploy tests conftest.py

# make bench BENCH=customers_list: list pages at 10k/100k/1M customers (docs/customers-list.md)
# make bench BENCH=apps: a fleet's app events into activity vs a raw pipeline (docs/performance.md)
BENCH ?= orders

bench: install ## a benchmark (BENCH=orders|customers_list|apps); writes bench-results/
	$(PYTHON) -m tests.bench.$(BENCH)

simulate: .run/.installed ## play TV-app activity for active customers of a running system (ARGS=...)
	$(PYTHON) -m deploy.simulator --from-gateway http://127.0.0.1:8000 $(ARGS)

dlq: .run/.installed ## the dead-letter topics of a running system (ARGS="topics|show T|replay T")
	$(PYTHON) -m deploy.dlq $(ARGS)

clean: ## remove local data, logs and caches (not the Kafka jar cache)
	rm -rf .run test-artifacts bench-results .pytest_cache .mypy_cache .ruff_cache
