"""The service settings read from the environment: names an operator (and deploy/) relies on."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from services.runtime.service_app import build_runtime
from services.runtime.settings import load_settings
from services.tickets.app import SPEC


def test_replication_factor_defaults_to_one_for_a_single_broker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KAFKA_REPLICATION_FACTOR", raising=False)
    assert load_settings("billing").kafka_replication_factor == 1


def test_replication_factor_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_REPLICATION_FACTOR", "3")
    assert load_settings("billing").kafka_replication_factor == 3


def test_replication_factor_below_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_REPLICATION_FACTOR", "0")
    with pytest.raises(ValidationError, match="kafka_replication_factor"):
        load_settings("billing")


def test_the_kafka_consumers_are_given_every_broker_of_a_cluster(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092,127.0.0.1:9192, 127.0.0.1:9292")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    settings = load_settings("tickets")
    assert settings.kafka_servers == ["127.0.0.1:9092", "127.0.0.1:9192", "127.0.0.1:9292"]
    # FastStream's broker would take the whole string for one host it cannot resolve.
    broker = build_runtime(SPEC, settings).broker
    assert broker._connection_kwargs["bootstrap_servers"] == settings.kafka_servers
