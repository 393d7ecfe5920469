"""The settings every service shares, read from the environment by pydantic-settings.

Each service derives its own class (`services/<name>/config.py`) that names its per-service
variables (`<SERVICE>_DATABASE_URL`, `_HOST`, `_PORT`, `_CONSUMER_WORKERS`) and adds its own.
A service loads its settings once, when it starts (`service_app.run`), and passes them down;
nothing reads the environment at import time. Tests build settings with field names.
"""

import secrets
from pathlib import Path
from typing import Annotated, ClassVar, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.kafka_security import KafkaSecurity
from services.runtime.secret_files import is_production, resolve_secret

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_ROOT / ".run" / "data"

# Where `make run` keeps the generated service token key (services/runtime/service_auth.py).
SERVICE_TOKEN_SECRET_FILE = "service_token_secret"

Port = Annotated[int, Field(ge=0, le=65535)]
# With batches off: consumers per topic in the group, partitions processed in parallel (each in
# order); 3 divides the 6 partitions evenly.
ConsumerWorkers = Annotated[int, Field(ge=1, le=32)]


class ServiceSettings(BaseSettings):
    """What every service reads. Every field names its variable: a field without one would be
    read from its own name (`PORT`), which no operator means, so a test refuses it."""

    model_config = SettingsConfigDict(
        validate_by_name=True,
        validate_by_alias=True,
        env_ignore_empty=True,
        extra="ignore",
        # Only the upper-case names below are variables; the per-service fields declared here
        # without one (their lower-case field names) are named by each service's class.
        case_sensitive=True,
    )

    # The service whose variables a subclass names; the base is only built by tests.
    service_name: ClassVar[str] = ""

    data_dir: Path = Field(DEFAULT_DATA_DIR, validation_alias="DATA_DIR")
    database_url: str = Field("", description="empty: SQLite file in DATA_DIR")
    host: str = "127.0.0.1"
    port: Port = 0
    kafka_bootstrap_servers: str = Field(
        "localhost:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    # Lets several systems share one broker (test runs, staging beside production): the
    # runtime adds it to every topic and consumer group name where it meets Kafka.
    kafka_topic_prefix: str = Field("", validation_alias="KAFKA_TOPIC_PREFIX")
    # Replicas of each topic the service creates at start: 1 for a single local broker, 3 on a
    # production cluster so a broker can be lost (the broker's min.insync.replicas then guards
    # the idempotent producer's acks=all). Topics that exist already are left as they are.
    kafka_replication_factor: int = Field(
        1, ge=1, le=32, validation_alias="KAFKA_REPLICATION_FACTOR"
    )
    # Only the fallback: the relay is woken by its process's commits and, on PostgreSQL, by any
    # replica's NOTIFY. At 0.2 s the idle polls were a third of an idle service's CPU.
    relay_interval_seconds: float = Field(
        1.0, gt=0, validation_alias="OUTBOX_RELAY_INTERVAL_SECONDS"
    )
    relay_batch_size: int = Field(500, ge=1, validation_alias="OUTBOX_RELAY_BATCH_SIZE")
    consumer_max_attempts: int = Field(5, ge=1, validation_alias="CONSUMER_MAX_ATTEMPTS")
    # Records per poll handled together, one transaction and one commit per partition: about
    # half the CPU per event of one by one (`make bench`, see the README). 1 turns it off.
    consumer_batch_size: int = Field(100, ge=1, le=1000, validation_alias="CONSUMER_BATCH_SIZE")
    consumer_workers: ConsumerWorkers = 3
    # How often the service reads its group's lag from the broker into `consumer_lag`
    # (services/runtime/consumer_lag.py); 0 turns it off.
    consumer_lag_interval_seconds: float = Field(
        15.0, ge=0, validation_alias="CONSUMER_LAG_INTERVAL_SECONDS"
    )
    # The fault campaign's injection points (services/runtime/fault_injection.py); unset: off.
    fault_injection_dir: Path | None = Field(None, validation_alias="FAULT_INJECTION_DIR")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    # Tracing export, off by default (services/runtime/tracing.py): an OTLP/HTTP collector's
    # base URL, and/or a directory for one JSON line per span.
    otel_exporter_otlp_endpoint: str | None = Field(
        None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    traces_dir: Path | None = Field(None, validation_alias="TRACES_DIR")
    # How long an Idempotency-Key's answer is kept (the IETF draft suggests a day), and how
    # long a claimed key may stay in flight before a retry may take it over (a dead process).
    idempotency_ttl_seconds: float = Field(86400, gt=0, validation_alias="IDEMPOTENCY_TTL_SECONDS")
    idempotency_lease_seconds: float = Field(60, gt=0, validation_alias="IDEMPOTENCY_LEASE_SECONDS")
    # production: SERVICE_TOKEN_SECRET must be given, and strong.
    environment: str = Field("development", validation_alias="ENVIRONMENT")
    # Verifies the gateway's service tokens; unset: generated into DATA_DIR (a service's
    # class), or a key of its own for settings built in code from the base class (tests),
    # whose callers sign with it (`ServiceTokenAuth(settings.service_token_key)`).
    service_token_secret: SecretStr | None = Field(None, validation_alias="SERVICE_TOKEN_SECRET")
    kafka_security_protocol: str = Field("PLAINTEXT", validation_alias="KAFKA_SECURITY_PROTOCOL")
    kafka_sasl_mechanism: str = Field("SCRAM-SHA-512", validation_alias="KAFKA_SASL_MECHANISM")
    kafka_sasl_username: str | None = Field(None, validation_alias="KAFKA_SASL_USERNAME")
    kafka_sasl_password: SecretStr | None = Field(None, validation_alias="KAFKA_SASL_PASSWORD")

    @model_validator(mode="after")
    def _database_in_data_dir_by_default(self) -> Self:
        if not self.database_url:
            if not self.service_name:
                raise ValueError("database_url is required without a service's settings class")
            self.database_url = sqlite_url(self.service_name, self.data_dir)
        return self

    @model_validator(mode="after")
    def _resolve_service_token_secret(self) -> Self:
        given = self.service_token_secret.get_secret_value() if self.service_token_secret else None
        if given is None and not self.service_name and not is_production(self.environment):
            self.service_token_secret = SecretStr(secrets.token_urlsafe(48))
            return self
        resolved = resolve_secret(
            "SERVICE_TOKEN_SECRET",
            given,
            data_dir=self.data_dir,
            file_name=SERVICE_TOKEN_SECRET_FILE,
            production=is_production(self.environment),
        )
        self.service_token_secret = SecretStr(resolved)
        return self

    @model_validator(mode="after")
    def _kafka_security_is_complete(self) -> Self:
        self.kafka_security  # noqa: B018 - refuses SASL without credentials at start
        return self

    @property
    def service_token_key(self) -> str:
        assert self.service_token_secret is not None
        return self.service_token_secret.get_secret_value()

    @property
    def kafka_security(self) -> KafkaSecurity:
        """The Kafka credentials of every producer, consumer and admin client of the service."""
        return KafkaSecurity.model_validate(
            {
                "protocol": self.kafka_security_protocol,
                "sasl_mechanism": self.kafka_sasl_mechanism,
                "sasl_username": self.kafka_sasl_username,
                "sasl_password": self.kafka_sasl_password,
            }
        )

    @property
    def kafka_servers(self) -> list[str]:
        """KAFKA_BOOTSTRAP_SERVERS as a list: FastStream takes a comma-separated string for
        one host, so a cluster's "h1:9092,h2:9092" must be split before it gets there."""
        return [server.strip() for server in self.kafka_bootstrap_servers.split(",") if server]


def sqlite_url(name: str, data_dir: Path = DEFAULT_DATA_DIR) -> str:
    return f"sqlite+aiosqlite:///{data_dir / f'{name}.db'}"
