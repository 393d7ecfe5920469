"""Settings of the gateway, read from the environment (see the field aliases for the names)."""

from pathlib import Path
from typing import Self

import httpx
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.kafka_security import KafkaSecurity
from services.runtime.secret_files import is_weak_secret, resolve_secret
from services.runtime.settings import DEFAULT_DATA_DIR, SERVICE_TOKEN_SECRET_FILE, sqlite_url

__all__ = ["JWT_SECRET_FILE", "GatewaySettings", "is_weak_secret", "load_settings"]

SERVICE_NAMES = ("customers", "billing", "tickets", "activity")
JWT_SECRET_FILE = "gateway_jwt_secret"
MIN_ADMIN_PASSWORD_LENGTH = 8


class GatewaySettings(BaseSettings):
    """Everything the gateway reads from its environment; construct with field names in tests."""

    model_config = SettingsConfigDict(
        validate_by_name=True, validate_by_alias=True, env_ignore_empty=True, extra="ignore"
    )

    environment: str = Field("development", validation_alias="ENVIRONMENT")
    data_dir: Path = Field(DEFAULT_DATA_DIR, validation_alias="DATA_DIR")
    host: str = Field("127.0.0.1", validation_alias="GATEWAY_HOST")
    port: int = Field(8000, ge=0, le=65535, validation_alias="GATEWAY_PORT")
    database_url: str = Field(
        "", validation_alias="GATEWAY_DATABASE_URL", description="empty: SQLite in DATA_DIR"
    )
    jwt_secret: SecretStr | None = Field(
        None, validation_alias="JWT_SECRET", description="unset: generated into DATA_DIR"
    )
    # Signs the short-lived token the gateway adds to every call to a service (shared with them).
    service_token_secret: SecretStr | None = Field(
        None, validation_alias="SERVICE_TOKEN_SECRET", description="unset: generated into DATA_DIR"
    )
    access_token_minutes: int = Field(30, ge=1, le=24 * 60, validation_alias="ACCESS_TOKEN_MINUTES")
    admin_username: str = Field(
        "admin", pattern=r"^[A-Za-z0-9._@-]{3,64}$", validation_alias="ADMIN_USERNAME"
    )
    admin_password: SecretStr | None = Field(None, validation_alias="ADMIN_PASSWORD")
    customers_url: str = Field("http://127.0.0.1:8101", validation_alias="CUSTOMERS_URL")
    billing_url: str = Field("http://127.0.0.1:8102", validation_alias="BILLING_URL")
    tickets_url: str = Field("http://127.0.0.1:8103", validation_alias="TICKETS_URL")
    activity_url: str = Field("http://127.0.0.1:8104", validation_alias="ACTIVITY_URL")
    service_timeout_seconds: float = Field(
        2.0, gt=0, le=60, validation_alias="SERVICE_TIMEOUT_SECONDS"
    )
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    # Tracing export, off by default (services/runtime/tracing.py): an OTLP/HTTP collector's
    # base URL, and/or a directory for one JSON line per span.
    otel_exporter_otlp_endpoint: str | None = Field(
        None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    traces_dir: Path | None = Field(None, validation_alias="TRACES_DIR")
    # How long the bearer check trusts an operator row it read
    # (see gateway/identity/operator_cache.py).
    operator_cache_seconds: float = Field(
        5.0, ge=0, le=60, validation_alias="OPERATOR_CACHE_SECONDS"
    )
    # As the services': how long an Idempotency-Key's answer is kept, and a claim's lease.
    idempotency_ttl_seconds: float = Field(86400, gt=0, validation_alias="IDEMPOTENCY_TTL_SECONDS")
    idempotency_lease_seconds: float = Field(60, gt=0, validation_alias="IDEMPOTENCY_LEASE_SECONDS")
    refresh_token_days: int = Field(14, ge=1, le=365, validation_alias="REFRESH_TOKEN_DAYS")
    login_max_failures: int = Field(5, ge=1, le=1000, validation_alias="LOGIN_MAX_FAILURES")
    login_window_seconds: int = Field(300, ge=1, le=86400, validation_alias="LOGIN_WINDOW_SECONDS")
    # X-Forwarded-For/-Proto are believed only from these addresses (comma-separated IPs or
    # CIDRs, e.g. the load balancer's); empty: from no one, so a client cannot pick the address
    # the per-address sign-in limit counts.
    trusted_proxies: str = Field("", validation_alias="TRUSTED_PROXIES")
    # The largest request body accepted (413 above it); real ones are a few kilobytes.
    max_request_bytes: int = Field(
        2 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024, validation_alias="MAX_REQUEST_BYTES"
    )
    # The stats page reads each service's consumer lag from the broker.
    kafka_bootstrap_servers: str = Field(
        "localhost:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    kafka_topic_prefix: str = Field("", validation_alias="KAFKA_TOPIC_PREFIX")
    kafka_security_protocol: str = Field("PLAINTEXT", validation_alias="KAFKA_SECURITY_PROTOCOL")
    kafka_sasl_mechanism: str = Field("SCRAM-SHA-512", validation_alias="KAFKA_SASL_MECHANISM")
    kafka_sasl_username: str | None = Field(None, validation_alias="KAFKA_SASL_USERNAME")
    kafka_sasl_password: SecretStr | None = Field(None, validation_alias="KAFKA_SASL_PASSWORD")
    kafka_timeout_seconds: float = Field(
        5.0, gt=0, le=60, validation_alias="STATS_KAFKA_TIMEOUT_SECONDS"
    )
    # How often the gateway reads every service's consumer lag into `consumer_lag`: from
    # outside the consumers, so a stopped one's lag is still reported. 0 turns it off.
    consumer_lag_interval_seconds: float = Field(
        15.0, ge=0, validation_alias="CONSUMER_LAG_INTERVAL_SECONDS"
    )

    @field_validator("customers_url", "billing_url", "tickets_url", "activity_url")
    @classmethod
    def _http_base_url(cls, value: str) -> str:
        url = httpx.URL(value)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an http(s) URL such as http://127.0.0.1:8101")
        return value.rstrip("/")

    @property
    def is_production(self) -> bool:
        return self.environment.lower() in ("production", "prod")

    @property
    def kafka_security(self) -> KafkaSecurity:
        """The stats page's and the dead-letter desk's Kafka credentials (the gateway's user)."""
        return KafkaSecurity.model_validate(
            {
                "protocol": self.kafka_security_protocol,
                "sasl_mechanism": self.kafka_sasl_mechanism,
                "sasl_username": self.kafka_sasl_username,
                "sasl_password": self.kafka_sasl_password,
            }
        )

    @property
    def service_urls(self) -> dict[str, str]:
        return {
            "customers": self.customers_url,
            "billing": self.billing_url,
            "tickets": self.tickets_url,
            "activity": self.activity_url,
        }

    @model_validator(mode="after")
    def _resolve_defaults_and_refuse_weak_secrets(self) -> Self:
        if not self.database_url:
            self.database_url = sqlite_url("gateway", self.data_dir)
        self.kafka_security  # noqa: B018 - refuses SASL without credentials at start
        admin_password = self.admin_password.get_secret_value() if self.admin_password else None
        if admin_password is not None and len(admin_password) < MIN_ADMIN_PASSWORD_LENGTH:
            raise ValueError(
                f"ADMIN_PASSWORD needs at least {MIN_ADMIN_PASSWORD_LENGTH} characters"
            )
        secrets = {"JWT_SECRET": JWT_SECRET_FILE, "SERVICE_TOKEN_SECRET": SERVICE_TOKEN_SECRET_FILE}
        for name, file_name in secrets.items():
            field = name.lower()
            given: SecretStr | None = getattr(self, field)
            resolved = resolve_secret(
                name,
                given.get_secret_value() if given else None,
                data_dir=self.data_dir,
                file_name=file_name,
                production=self.is_production,
            )
            setattr(self, field, SecretStr(resolved))
        return self

    @property
    def jwt_key(self) -> str:
        """The signing key (always resolved by validation)."""
        assert self.jwt_secret is not None
        return self.jwt_secret.get_secret_value()

    @property
    def service_token_key(self) -> str:
        """The key of the service tokens (always resolved by validation)."""
        assert self.service_token_secret is not None
        return self.service_token_secret.get_secret_value()


def load_settings() -> GatewaySettings:
    return GatewaySettings()
