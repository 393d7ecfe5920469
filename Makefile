# One Makefile; CI (.ci/run) uses the same targets. Everything runs in the project's own
# virtual environment (.venv, created by the first target that needs it) with the exact versions
# of requirements.lock, never in the machine's Python.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
# The interpreter that creates the environment (3.11 or later).
BASE_PYTHON ?= python3
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: help install lock run cluster chaos test test-unit lint typecheck bench prometheus simulate dlq clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# The system packages first: on Debian the venv module is one of them (python3-venv).
$(PYTHON):
	bash deploy/local/install-prerequisites.sh
	$(BASE_PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }

# The lock first (every dependency, dev tools included, at its pinned version and hash), then
# the project itself on top without resolving anything again. The stamp lives in .venv, so a
# removed .venv is made again.
$(VENV)/.installed: pyproject.toml requirements.lock deploy/local/install-prerequisites.sh | $(PYTHON)
	bash deploy/local/install-prerequisites.sh
	$(PYTHON) -m pip install -q -r requirements.lock
	$(PYTHON) -m pip install -q --no-deps -e .
	@touch $@

install: $(VENV)/.installed ## make .venv: the locked dependencies, the project, the Kafka jars
	$(PYTHON) -m deploy.local fetch-kafka

# pip-tools is pinned in the dev extras (so in the lock); installed here too for a first lock.
# Versions already in requirements.lock are kept while pyproject.toml allows them.
lock: | $(PYTHON) ## pin every dependency of pyproject.toml, with hashes, into requirements.lock
	$(PYTHON) -m pip install -q pip-tools==7.6.2
	CUSTOM_COMPILE_COMMAND="make lock" $(PYTHON) -m piptools compile -q --extra dev \
		--generate-hashes --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links -o requirements.lock pyproject.toml

run: install ## start Kafka, the four services and the gateway (SQLite); Ctrl-C stops all
	$(PYTHON) -m deploy.local.run_system

cluster: install ## three Kafka brokers (SASL/SCRAM, ACLs), PostgreSQL, two replicas of each service and gateway; Ctrl-C stops all
	$(PYTHON) -m deploy.local.run_cluster

# make chaos SEED=7 DURATION=600: another seed, a longer campaign (docs/reliability.md)
SEED ?= 1
DURATION ?= 300

chaos: install ## fault campaign on a cluster of its own, then the checker; writes docs/reliability.md
	$(PYTHON) -m deploy.chaos --seed $(SEED) --duration $(DURATION) --docs docs/reliability.md

test: install lint ## lint, then all tests: unit, and system tests on real Kafka, PostgreSQL, SQLite
	$(PYTHON) -m pytest -q -ra

test-unit: $(VENV)/.installed ## only the tests that need no server
	$(PYTHON) -m pytest -q -m "not kafka and not postgres and not system"

lint: $(VENV)/.installed ## ruff and mypy
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy services gateway deploy tests conftest.py

# make bench BENCH=customers_list: list pages at 10k/100k/1M customers on SQLite and PostgreSQL,
#   each size seeded once and kept (docs/customers-list.md)
# make bench BENCH=apps: a fleet's app events into activity vs a raw pipeline (docs/performance.md)
# make bench BENCH=expiry: 10,000 subscriptions due at once until the list shows them expired
# make bench BENCH=orders: webshop orders, new buyers and renewals, vs an honest raw pipeline
BENCH ?= orders

bench: install ## a benchmark (BENCH=orders|customers_list|apps|expiry); writes bench-results/
	$(PYTHON) -m tests.bench.$(BENCH)

prometheus: $(VENV)/.installed ## Prometheus on 127.0.0.1:9090 scraping `make run`'s processes, with the alert rules
	$(PYTHON) -m deploy.local.prometheus

simulate: $(VENV)/.installed ## play TV-app activity for active customers of a running system (ARGS=...)
	$(PYTHON) -m deploy.simulator --from-gateway http://127.0.0.1:8000 $(ARGS)

dlq: $(VENV)/.installed ## the dead-letter topics of a running system (ARGS="topics|show T|replay T")
	$(PYTHON) -m deploy.dlq $(ARGS)

clean: ## remove local data, logs and caches (not the Kafka jar cache, not .venv)
	rm -rf .run test-artifacts bench-results .pytest_cache .mypy_cache .ruff_cache
