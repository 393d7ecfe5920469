"""The service settings read from the environment: names an operator (and deploy/) relies on,
read when a service's settings class is built, never at import time."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from services.billing.config import BillingSettings
from services.customers.config import CustomersSettings
from services.runtime.service_app import build_runtime
from services.runtime.settings import ServiceSettings
from services.tickets.app import SPEC
from services.tickets.config import TicketsSettings


def test_replication_factor_defaults_to_one_for_a_single_broker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KAFKA_REPLICATION_FACTOR", raising=False)
    assert BillingSettings().kafka_replication_factor == 1


def test_replication_factor_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_REPLICATION_FACTOR", "3")
    assert BillingSettings().kafka_replication_factor == 3


def test_replication_factor_below_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_REPLICATION_FACTOR", "0")
    with pytest.raises(ValidationError, match="KAFKA_REPLICATION_FACTOR"):
        BillingSettings()


def test_per_service_names_belong_to_their_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_PORT", "9102")
    monkeypatch.setenv("BILLING_DATABASE_URL", "postgresql+asyncpg://db/billing")
    monkeypatch.setenv("PORT", "1")  # a bare name no service reads
    billing, customers = BillingSettings(), CustomersSettings()
    assert (billing.port, billing.database_url) == (9102, "postgresql+asyncpg://db/billing")
    assert customers.port == 8101
    assert customers.database_url.endswith("/customers.db")


def test_consumer_workers_per_service_win_over_the_shared_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONSUMER_WORKERS", "2")
    monkeypatch.setenv("BILLING_CONSUMER_WORKERS", "6")
    assert (BillingSettings().consumer_workers, CustomersSettings().consumer_workers) == (6, 2)


def test_the_topic_prefix_is_read_when_settings_are_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_TOPIC_PREFIX", "staging.")
    assert CustomersSettings().kafka_topic_prefix == "staging."
    monkeypatch.setenv("KAFKA_TOPIC_PREFIX", "other.")
    assert CustomersSettings().kafka_topic_prefix == "other."


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOMERS_PORT", "9101")
    assert CustomersSettings(port=0).port == 0


def test_the_shared_base_needs_a_database_url() -> None:
    # Only a service's class knows where its SQLite file goes.
    with pytest.raises(ValidationError, match="database_url"):
        ServiceSettings()
    assert ServiceSettings(database_url="sqlite+aiosqlite:///x.db").port == 0


def test_the_kafka_consumers_are_given_every_broker_of_a_cluster(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092,127.0.0.1:9192, 127.0.0.1:9292")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    settings = TicketsSettings()
    assert settings.kafka_servers == ["127.0.0.1:9092", "127.0.0.1:9192", "127.0.0.1:9292"]
    # FastStream's broker would take the whole string for one host it cannot resolve.
    broker = build_runtime(SPEC, settings).broker
    assert broker._connection_kwargs["bootstrap_servers"] == settings.kafka_servers
