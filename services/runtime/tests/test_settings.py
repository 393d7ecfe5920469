"""The service settings read from the environment: names an operator (and deploy/) relies on,
read when a service's settings class is built, never at import time."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from pydantic import ValidationError

from services.activity.config import ActivitySettings
from services.billing.config import BillingSettings
from services.customers.config import CustomersSettings
from services.runtime import service_app
from services.runtime.secret_files import read_or_create_secret
from services.runtime.service_app import build_runtime
from services.runtime.settings import SERVICE_TOKEN_SECRET_FILE, ServiceSettings
from services.tickets.app import SPEC
from services.tickets.config import TicketsSettings

STRONG = "pW3-nB8_rT5.kM2~xQ7-hJ4_vC9.gL6~sD1"


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The generated service token key goes to DATA_DIR: a temporary one, not the repo's .run.
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    for name in ("ENVIRONMENT", "SERVICE_TOKEN_SECRET", "KAFKA_SECURITY_PROTOCOL"):
        monkeypatch.delenv(name, raising=False)
    for service in ("CUSTOMERS", "BILLING", "TICKETS", "ACTIVITY"):
        monkeypatch.delenv(f"{service}_HOST", raising=False)


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


@pytest.mark.parametrize(
    "kind", [BillingSettings, CustomersSettings, TicketsSettings, ActivitySettings]
)
def test_services_listen_on_loopback_by_default(kind: type[ServiceSettings]) -> None:
    assert kind().host == "127.0.0.1"


def test_run_serves_on_the_settings_host(monkeypatch: pytest.MonkeyPatch) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(service_app, "create_app", lambda spec, settings: "app")
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(options))
    from services.billing.app import SPEC as BILLING

    service_app.run(BILLING)

    assert (served["host"], served["port"]) == ("127.0.0.1", 8102)


def test_service_token_key_is_generated_once_into_the_data_dir(tmp_path: Path) -> None:
    first = BillingSettings().service_token_key
    second = CustomersSettings().service_token_key

    assert first == second
    secret_file = tmp_path / SERVICE_TOKEN_SECRET_FILE
    assert secret_file.read_text() == first
    assert secret_file.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("secret", [None, "changeme", "short-secret", "a" * 64])
def test_production_refuses_a_missing_or_weak_service_token_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret: str | None
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    if secret is not None:
        monkeypatch.setenv("SERVICE_TOKEN_SECRET", secret)

    with pytest.raises(ValueError, match="SERVICE_TOKEN_SECRET"):
        BillingSettings()
    assert not (tmp_path / SERVICE_TOKEN_SECRET_FILE).exists()


def test_production_takes_a_strong_service_token_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SERVICE_TOKEN_SECRET", STRONG)

    assert BillingSettings().service_token_key == STRONG


def test_settings_built_in_code_get_a_key_of_their_own() -> None:
    one = ServiceSettings(database_url="sqlite+aiosqlite://", port=0)
    two = ServiceSettings(database_url="sqlite+aiosqlite://", port=0)

    assert len(one.service_token_key) >= 32 and one.service_token_key != two.service_token_key


def test_kafka_sasl_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "billing")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", STRONG)

    options = BillingSettings().kafka_security.client_options()

    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-256"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("billing", STRONG)
    assert options["ssl_context"] is not None


def test_sasl_without_credentials_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.delenv("KAFKA_SASL_USERNAME", raising=False)
    monkeypatch.delenv("KAFKA_SASL_PASSWORD", raising=False)

    with pytest.raises(ValidationError, match="KAFKA_SASL_USERNAME"):
        BillingSettings()


def test_plaintext_by_default() -> None:
    assert BillingSettings().kafka_security.client_options() == {"security_protocol": "PLAINTEXT"}


def test_processes_starting_together_share_one_complete_key(tmp_path: Path) -> None:
    path = tmp_path / "many" / SERVICE_TOKEN_SECRET_FILE
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: read_or_create_secret(path), range(32)))

    assert keys == {path.read_text()} and len(path.read_text()) >= 32
    assert [p.name for p in path.parent.iterdir()] == [SERVICE_TOKEN_SECRET_FILE]
