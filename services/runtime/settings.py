"""The settings every service shares, read from the environment by pydantic-settings.

Each service derives its own class (`services/<name>/config.py`) that names its per-service
variables (`<SERVICE>_DATABASE_URL`, `_HOST`, `_PORT`, `_CONSUMER_WORKERS`) and adds its own.
A service loads its settings once, when it starts (`service_app.run`), and passes them down;
nothing reads the environment at import time. Tests build settings with field names.
"""

from pathlib import Path
from typing import Annotated, ClassVar, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_ROOT / ".run" / "data"

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
    relay_interval_seconds: float = Field(
        0.2, gt=0, validation_alias="OUTBOX_RELAY_INTERVAL_SECONDS"
    )
    relay_batch_size: int = Field(500, ge=1, validation_alias="OUTBOX_RELAY_BATCH_SIZE")
    consumer_max_attempts: int = Field(5, ge=1, validation_alias="CONSUMER_MAX_ATTEMPTS")
    # Records per poll handled together, one transaction and one commit per partition: about
    # half the CPU per event of one by one (`make bench`, see the README). 1 turns it off.
    consumer_batch_size: int = Field(100, ge=1, le=1000, validation_alias="CONSUMER_BATCH_SIZE")
    consumer_workers: ConsumerWorkers = 3
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

    @model_validator(mode="after")
    def _database_in_data_dir_by_default(self) -> Self:
        if not self.database_url:
            if not self.service_name:
                raise ValueError("database_url is required without a service's settings class")
            self.database_url = sqlite_url(self.service_name, self.data_dir)
        return self

    @property
    def kafka_servers(self) -> list[str]:
        """KAFKA_BOOTSTRAP_SERVERS as a list: FastStream takes a comma-separated string for
        one host, so a cluster's "h1:9092,h2:9092" must be split before it gets there."""
        return [server.strip() for server in self.kafka_bootstrap_servers.split(",") if server]


def sqlite_url(name: str, data_dir: Path = DEFAULT_DATA_DIR) -> str:
    return f"sqlite+aiosqlite:///{data_dir / f'{name}.db'}"
