"""Settings: the JWT and service token secrets are generated in development and must be strong
in production."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.settings import JWT_SECRET_FILE, GatewaySettings, is_weak_secret
from services.runtime.settings import SERVICE_TOKEN_SECRET_FILE

STRONG = "Zq8!vR2#kL9@xP4$mN7^bT1&cW6*yH3(dF5)"
OTHER_STRONG = "pW3-nB8_rT5.kM2~xQ7-hJ4_vC9.gL6~sD1"


def test_unset_secret_is_generated_once_and_kept_in_the_data_dir(tmp_path: Path) -> None:
    first = GatewaySettings.model_validate({"environment": "development", "data_dir": tmp_path})
    second = GatewaySettings.model_validate({"environment": "development", "data_dir": tmp_path})

    assert first.jwt_key == second.jwt_key
    assert not is_weak_secret(first.jwt_key)
    secret_file = tmp_path / JWT_SECRET_FILE
    assert secret_file.read_text() == first.jwt_key
    assert secret_file.stat().st_mode & 0o077 == 0
    assert first.service_token_key == second.service_token_key != first.jwt_key
    service_file = tmp_path / SERVICE_TOKEN_SECRET_FILE
    assert service_file.read_text() == first.service_token_key
    assert service_file.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("secret", [None, "changeme", "short-secret", "a" * 64])
def test_production_refuses_a_missing_or_weak_secret(tmp_path: Path, secret: str | None) -> None:
    values = {
        "environment": "production",
        "data_dir": tmp_path,
        "jwt_secret": secret,
        "service_token_secret": OTHER_STRONG,
    }

    with pytest.raises(ValidationError, match="JWT_SECRET"):
        GatewaySettings.model_validate(values)
    assert not (tmp_path / JWT_SECRET_FILE).exists()


@pytest.mark.parametrize("secret", [None, "changeme", "short-secret", "a" * 64])
def test_production_refuses_a_missing_or_weak_service_token_secret(
    tmp_path: Path, secret: str | None
) -> None:
    values = {
        "environment": "production",
        "data_dir": tmp_path,
        "jwt_secret": STRONG,
        "service_token_secret": secret,
    }

    with pytest.raises(ValidationError, match="SERVICE_TOKEN_SECRET"):
        GatewaySettings.model_validate(values)
    assert not (tmp_path / SERVICE_TOKEN_SECRET_FILE).exists()


def test_production_accepts_strong_secrets(tmp_path: Path) -> None:
    settings = GatewaySettings.model_validate(
        {
            "environment": "production",
            "data_dir": tmp_path,
            "jwt_secret": STRONG,
            "service_token_secret": OTHER_STRONG,
        }
    )

    assert settings.jwt_key == STRONG
    assert settings.service_token_key == OTHER_STRONG


def test_settings_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GATEWAY_PORT", "8080")
    monkeypatch.setenv("JWT_SECRET", STRONG)
    monkeypatch.setenv("BILLING_URL", "http://billing:9000/")
    monkeypatch.setenv("SERVICE_TIMEOUT_SECONDS", "1.5")
    monkeypatch.setenv("ADMIN_PASSWORD", "")  # empty counts as unset

    settings = GatewaySettings()

    assert settings.port == 8080
    assert settings.jwt_key == STRONG
    assert settings.service_urls["billing"] == "http://billing:9000"
    assert settings.service_urls["customers"] == "http://127.0.0.1:8101"
    assert settings.service_timeout_seconds == 1.5
    assert settings.admin_password is None
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"


def test_short_admin_password_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="ADMIN_PASSWORD"):
        GatewaySettings.model_validate(
            {"data_dir": tmp_path, "jwt_secret": STRONG, "admin_password": "1234"}
        )
