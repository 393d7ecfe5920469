"""Settings of one service from the environment (`<SERVICE>_DATABASE_URL`, `<SERVICE>_PORT`)."""

import os
import secrets
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

from services.runtime.kafka_security import KafkaSecurity, kafka_security_from
from services.runtime.secret_files import is_production, resolve_secret

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_ROOT / ".run" / "data"

# Where `make run` keeps the generated service token key (services/runtime/service_auth.py).
SERVICE_TOKEN_SECRET_FILE = "service_token_secret"

DEFAULT_PORTS = {"customers": 8101, "billing": 8102, "tickets": 8103, "activity": 8104}


class ServiceSettings(BaseModel):
    name: str
    database_url: str
    # production: SERVICE_TOKEN_SECRET must be given, and strong.
    environment: str = "development"
    kafka_bootstrap_servers: str = "localhost:9092"
    # Replicas of each topic the service creates at start: 1 for a single local broker, 3 on a
    # production cluster so a broker can be lost (the broker's min.insync.replicas then guards
    # the idempotent producer's acks=all). Topics that exist already are left as they are.
    kafka_replication_factor: int = Field(default=1, ge=1, le=32)
    kafka_security: KafkaSecurity = Field(default_factory=KafkaSecurity)
    host: str = "127.0.0.1"
    port: int = Field(ge=0, le=65535)
    relay_interval_seconds: float = Field(default=0.2, gt=0)
    relay_batch_size: int = Field(default=500, ge=1)
    consumer_max_attempts: int = Field(default=5, ge=1)
    # Records per poll handled together, one transaction and one commit per partition: about
    # half the CPU per event of one by one (`make bench`, see the README). 1 turns it off.
    consumer_batch_size: int = Field(default=100, ge=1, le=1000)
    # With batches off: consumers per topic in the group, partitions processed in parallel
    # (each in order); 3 divides the 6 partitions evenly.
    consumer_workers: int = Field(default=3, ge=1, le=32)
    log_level: str = "INFO"
    # How long an Idempotency-Key's answer is kept (the IETF draft suggests a day), and how
    # long a claimed key may stay in flight before a retry may take it over (a dead process).
    idempotency_ttl_seconds: float = Field(default=86400, gt=0)
    idempotency_lease_seconds: float = Field(default=60, gt=0)
    # Verifies the gateway's service tokens. A settings object built in code (tests) gets a key
    # of its own; its callers sign with it (`ServiceTokenAuth(settings.service_token_key)`).
    service_token_secret: SecretStr = Field(
        default_factory=lambda: SecretStr(secrets.token_urlsafe(48))
    )

    @property
    def service_token_key(self) -> str:
        return self.service_token_secret.get_secret_value()

    @property
    def kafka_servers(self) -> list[str]:
        """KAFKA_BOOTSTRAP_SERVERS as a list: FastStream takes a comma-separated string for
        one host, so a cluster's "h1:9092,h2:9092" must be split before it gets there."""
        return [server.strip() for server in self.kafka_bootstrap_servers.split(",") if server]


def sqlite_url(name: str, data_dir: Path = DEFAULT_DATA_DIR) -> str:
    return f"sqlite+aiosqlite:///{data_dir / f'{name}.db'}"


def load_settings(name: str) -> ServiceSettings:
    """Settings for service `name`; unprefixed KAFKA_BOOTSTRAP_SERVERS is shared by all."""
    prefix = name.upper()
    env = os.environ
    data_dir = Path(env.get("DATA_DIR", str(DEFAULT_DATA_DIR)))
    environment = env.get("ENVIRONMENT", "development")
    service_token_secret = resolve_secret(
        "SERVICE_TOKEN_SECRET",
        env.get("SERVICE_TOKEN_SECRET") or None,
        data_dir=data_dir,
        file_name=SERVICE_TOKEN_SECRET_FILE,
        production=is_production(environment),
    )
    return ServiceSettings(
        service_token_secret=SecretStr(service_token_secret),
        name=name,
        environment=environment,
        database_url=env.get(f"{prefix}_DATABASE_URL") or sqlite_url(name, data_dir),
        kafka_bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
        kafka_security=kafka_security_from(env),
        kafka_replication_factor=int(env.get("KAFKA_REPLICATION_FACTOR", "1")),
        host=env.get(f"{prefix}_HOST", "127.0.0.1"),
        port=int(env.get(f"{prefix}_PORT", DEFAULT_PORTS.get(name, 0))),
        relay_interval_seconds=float(env.get("OUTBOX_RELAY_INTERVAL_SECONDS", "0.2")),
        log_level=env.get("LOG_LEVEL", "INFO"),
        consumer_batch_size=int(env.get("CONSUMER_BATCH_SIZE", "100")),
        idempotency_ttl_seconds=float(env.get("IDEMPOTENCY_TTL_SECONDS", "86400")),
        idempotency_lease_seconds=float(env.get("IDEMPOTENCY_LEASE_SECONDS", "60")),
        consumer_workers=int(
            env.get(f"{prefix}_CONSUMER_WORKERS", env.get("CONSUMER_WORKERS", "3"))
        ),
    )
