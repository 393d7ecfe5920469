"""The local cluster (`make cluster`, and the test that kills a broker under load): three Kafka
brokers in KRaft mode, one PostgreSQL, and two replicas of every service and of the gateway.

Replica `a` and replica `b` of a service share its database and its consumer group; gateway `a`
calls the `a` services and gateway `b` the `b` ones (no proxy in between), both on the gateway
database and one JWT secret, so a token from either is good at both.

Kafka wants SASL/SCRAM on its client port and allows each process's user only what
deploy/kafka_acls.py grants it; the passwords are made for each run, each process gets its own
in its environment, and setup and tools use the admin user (`admin_env`).
"""

from __future__ import annotations

import random
import shutil
import socket
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from deploy.kafka_acls import PROCESSES, all_acls
from deploy.local.kafka import LocalKafkaCluster
from deploy.local.kafka_auth import ADMIN, ClusterAuth
from deploy.local.postgres import LocalPostgres
from deploy.local.processes import (
    DEFAULT_PORTS,
    SERVICES,
    ServiceProcess,
    service_processes,
    start_all,
    stop_all,
)

REPLICAS: Final = ("a", "b")
DATABASES: Final = (*SERVICES, "gateway")


@dataclass(frozen=True)
class ClusterPorts:
    """Where everything listens: per broker a client and a controller port; per replica a port
    for each service and for the gateway."""

    kafka: tuple[int, ...]
    controllers: tuple[int, ...]
    postgres: int
    replicas: Mapping[str, Mapping[str, int]]

    @classmethod
    def defaults(cls) -> ClusterPorts:
        """`make cluster`: replica a where `make run` puts each process, replica b 10 above."""
        return cls(
            kafka=(9092, 9192, 9292),
            controllers=(9093, 9193, 9293),
            postgres=5433,
            replicas={
                "a": dict(DEFAULT_PORTS),
                "b": {name: port + 10 for name, port in DEFAULT_PORTS.items()},
            },
        )

    @classmethod
    def free(cls) -> ClusterPorts:
        """Ports free right now, for a test that must not meet anything else on the machine."""
        taken: set[int] = set()
        return cls(
            kafka=tuple(unused_port(taken) for _ in range(3)),
            controllers=tuple(unused_port(taken) for _ in range(3)),
            postgres=unused_port(taken),
            replicas={r: {name: unused_port(taken) for name in DEFAULT_PORTS} for r in REPLICAS},
        )


def unused_port(taken: set[int]) -> int:
    """A port free now, below the kernel's ephemeral range (32768 up on Linux), added to `taken`.

    An ephemeral port (what binding port 0 gives) can be handed to any outgoing connection in
    the minute before a broker's JVM binds it, and on a busy machine one was: below that range
    only a server choosing the same port can get in the way."""
    while True:
        port = random.randrange(20000, 32768)
        if port in taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port


@dataclass
class LocalCluster:
    """Start with `start()`, stop with `stop()` (or use it as a context manager).

    Without `database_urls` a PostgreSQL server of its own is started (data in a temporary
    directory, thrown away at the stop) with one database per service and the gateway.
    `secure_kafka=False` runs the brokers in plaintext without ACLs (as before they had them).
    """

    run_dir: Path
    ports: ClusterPorts = field(default_factory=ClusterPorts.defaults)
    database_urls: Mapping[str, str] | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    broker_heap: str = "384m"
    logs_at: Path | None = None
    # Commits answered only once in the WAL (LocalPostgres.durable_commits): for a run that
    # kills its PostgreSQL server and counts what was lost.
    durable_postgres: bool = False
    secure_kafka: bool = True
    kafka_auth: ClusterAuth | None = field(init=False, default=None)
    kafka: LocalKafkaCluster = field(init=False)
    postgres: LocalPostgres | None = field(init=False, default=None)
    processes: list[ServiceProcess] = field(init=False, default_factory=list)
    _postgres_dir: Path | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.secure_kafka:
            self.kafka_auth = ClusterAuth.generate(PROCESSES)
        prefix = self.extra_env.get("KAFKA_TOPIC_PREFIX", "")
        self.kafka = LocalKafkaCluster(
            ports=self.ports.kafka,
            controller_ports=self.ports.controllers,
            data_dir=self.run_dir / "kafka",
            log_dir=self.log_dir,
            heap=self.broker_heap,
            auth=self.kafka_auth,
            acls=all_acls(prefix) if self.secure_kafka else (),
        )

    @property
    def kafka_client_options(self) -> dict[str, Any]:
        """aiokafka keywords of the admin user (empty without `secure_kafka`): for a test's or
        a tool's producers, consumers and admin clients."""
        return self.kafka.client_options

    def admin_env(self) -> dict[str, str]:
        """The environment that points a tool at this cluster as its admin user."""
        env = {"KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers}
        if self.kafka_auth is not None:
            env |= self.kafka_auth.client_env(ADMIN)
        return env

    def process_kafka_env(self) -> dict[str, dict[str, str]]:
        """Each process's own Kafka user, for its environment alone."""
        if self.kafka_auth is None:
            return {}
        return {process: self.kafka_auth.client_env(process) for process in PROCESSES}

    @property
    def log_dir(self) -> Path:
        """One log per broker, process and PostgreSQL: `logs_at`, else `run_dir/logs`."""
        return self.logs_at or self.run_dir / "logs"

    def process(self, name: str, replica: str) -> ServiceProcess:
        """e.g. `process("billing", "b")`, `process("gateway", "a")`."""
        return next(p for p in self.processes if p.name == f"{name}-{replica}")

    def gateway_url(self, replica: str) -> str:
        return self.process("gateway", replica).url

    def _databases(self) -> Mapping[str, str]:
        if self.database_urls is not None:
            return self.database_urls
        # initdb runs as the postgres user under root: its directory must be traversable.
        self._postgres_dir = Path(tempfile.mkdtemp(prefix="tvcm-cluster-postgres-"))
        self._postgres_dir.chmod(0o755)
        self.postgres = LocalPostgres(
            port=self.ports.postgres,
            data_dir=self._postgres_dir,
            log_file=self.log_dir / "postgres.log",
            durable_commits=self.durable_postgres,
        )
        self.postgres.start()
        return {name: self.postgres.create_database(name) for name in DATABASES}

    def start(self, timeout: float = 240) -> None:
        """Kafka and PostgreSQL, then every replica at once; returns when all are ready."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.kafka.start(timeout=timeout)
            databases = self._databases()
            env = {
                "KAFKA_REPLICATION_FACTOR": str(self.kafka.replication_factor),
                "SEED_DEMO_CATALOG": "1",
                **self.extra_env,
            }
            for replica in REPLICAS:
                self.processes += service_processes(
                    kafka_bootstrap_servers=self.kafka.bootstrap_servers,
                    data_dir=self.run_dir / "data",
                    log_dir=self.log_dir,
                    ports=self.ports.replicas[replica],
                    database_urls=databases,
                    extra_env=env,
                    replica=replica,
                    process_env=self.process_kafka_env(),
                )
            start_all(self.processes, timeout=timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        stop_all(self.processes)
        self.kafka.stop()
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
        if self._postgres_dir is not None:
            shutil.rmtree(self._postgres_dir, ignore_errors=True)
            self._postgres_dir = None

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
