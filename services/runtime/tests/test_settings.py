"""The service settings read from the environment: names an operator (and deploy/) relies on."""

import pytest
from pydantic import ValidationError

from services.runtime.settings import load_settings


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
