"""Where the tests get Kafka and PostgreSQL from, decided here and nowhere else.

For each server, the first that applies wins:
1. an environment variable naming a running server:
   TEST_KAFKA_BOOTSTRAP_SERVERS (e.g. "127.0.0.1:9092"),
   TEST_POSTGRES_URL (a SQLAlchemy URL of the `postgres` database as a superuser);
2. a testcontainers container, when a Docker engine answers;
3. a local server without Docker (deploy/local): a Kafka JVM / a PostgreSQL from the
   distribution's binaries, with temporary data and logs under test-artifacts/.

The fixtures are session-scoped and lazy: a server starts only when a test (tests marked
`kafka` / `postgres`) asks for it, and it is stopped at the end of the session.

Fixtures:
    kafka_bootstrap_servers -> str
    postgres_admin_url -> str           SQLAlchemy URL (postgresql+asyncpg) of `postgres`
    new_postgres_database -> (prefix: str) -> str
        a plain (sync) function that creates a fresh database named `<prefix>_<random>` and
        returns its SQLAlchemy URL (postgresql+asyncpg); callable from sync and async code.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy.engine import make_url

REPO_ROOT = Path(__file__).resolve().parent
ARTIFACTS = REPO_ROOT / "test-artifacts"

KAFKA_ENV = "TEST_KAFKA_BOOTSTRAP_SERVERS"
POSTGRES_ENV = "TEST_POSTGRES_URL"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"
POSTGRES_IMAGE = "postgres:16-alpine"

_T = TypeVar("_T")


@functools.cache
def docker_available() -> bool:
    """True if a Docker engine answers within a few seconds."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def _run_coroutine(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run `coroutine` to completion in a thread of its own (works inside a running loop too)."""
    results: list[_T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            results.append(asyncio.run(coroutine))
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return results[0]


_SERVER_NOTES = pytest.StashKey[list[str]]()


def _report(config: pytest.Config, message: str) -> None:
    """Note where a server came from; the notes are shown in the terminal summary."""
    config.stash.setdefault(_SERVER_NOTES, []).append(message)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    notes = config.stash.get(_SERVER_NOTES, [])
    if notes:
        terminalreporter.write_sep("-", "test servers")
        for note in notes:
            terminalreporter.write_line(note)


def _temp_dir(prefix: str) -> Path:
    """A temporary directory every user may traverse (the postgres user must reach its data)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def _artifact_log(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    log_file = ARTIFACTS / name
    log_file.unlink(missing_ok=True)
    return log_file


@pytest.fixture(scope="session")
def kafka_bootstrap_servers(request: pytest.FixtureRequest) -> Iterator[str]:
    """Bootstrap servers of a Kafka broker for the whole session (see the module docstring)."""
    configured = os.environ.get(KAFKA_ENV)
    if configured:
        _report(request.config, f"Kafka from ${KAFKA_ENV}: {configured}")
        yield configured
        return

    started = time.monotonic()
    if docker_available():
        from testcontainers.community.kafka import KafkaContainer

        container = (
            KafkaContainer(KAFKA_IMAGE)
            .with_kraft()
            .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
            .with_env("KAFKA_NUM_PARTITIONS", "6")
            .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
            .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        )
        container.start(timeout=120)
        try:
            servers = container.get_bootstrap_server()
            elapsed = time.monotonic() - started
            _report(request.config, f"Kafka container {servers} ({elapsed:.1f} s)")
            yield servers
        finally:
            container.stop()
        return

    from deploy.local.kafka import LocalKafka, free_port

    data_dir = _temp_dir("tvcm-kafka-")
    broker = LocalKafka(
        port=free_port(),
        controller_port=free_port(),
        data_dir=data_dir,
        log_file=_artifact_log("kafka.log"),
    )
    try:
        broker.start(timeout=90)
        elapsed = time.monotonic() - started
        _report(request.config, f"local Kafka {broker.bootstrap_servers} ({elapsed:.1f} s)")
        yield broker.bootstrap_servers
    finally:
        broker.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def _asyncpg_url(url: str) -> str:
    """`url` with the asyncpg driver, whatever driver (or none) it names."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_admin_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """SQLAlchemy URL (asyncpg) of the `postgres` database of a server, as a superuser."""
    configured = os.environ.get(POSTGRES_ENV)
    if configured:
        url = _asyncpg_url(configured)
        _report(request.config, f"PostgreSQL from ${POSTGRES_ENV}")
        yield url
        return

    started = time.monotonic()
    if docker_available():
        from testcontainers.community.postgres import PostgresContainer

        container = PostgresContainer(
            POSTGRES_IMAGE,
            username="postgres",
            password="postgres",
            dbname="postgres",
            driver="asyncpg",
        )
        container.start()
        try:
            url = container.get_connection_url()
            elapsed = time.monotonic() - started
            _report(request.config, f"PostgreSQL container ({elapsed:.1f} s)")
            yield url
        finally:
            container.stop()
        return

    from deploy.local.kafka import free_port
    from deploy.local.postgres import LocalPostgres

    data_dir = _temp_dir("tvcm-postgres-")
    server = LocalPostgres(
        port=free_port(), data_dir=data_dir, log_file=_artifact_log("postgres.log")
    )
    try:
        server.start(timeout=60)
        elapsed = time.monotonic() - started
        _report(request.config, f"local PostgreSQL on port {server.port} ({elapsed:.1f} s)")
        yield server.admin_url
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


_PREFIX = re.compile(r"[a-z][a-z0-9_]{0,40}")


async def _execute(admin_url: str, *statements: str) -> None:
    import asyncpg

    dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def new_postgres_database(postgres_admin_url: str) -> Iterator[Callable[[str], str]]:
    """A factory: `new_postgres_database("billing")` -> URL of a new, empty database.

    Databases made on a server given by $TEST_POSTGRES_URL are dropped at the end of the
    session; the other servers are thrown away with their data.
    """
    created: list[str] = []

    def create(prefix: str) -> str:
        if not _PREFIX.fullmatch(prefix):
            raise ValueError(f"database prefix must match {_PREFIX.pattern}: {prefix!r}")
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        _run_coroutine(_execute(postgres_admin_url, f'CREATE DATABASE "{name}"'))
        created.append(name)
        url: str = (
            make_url(postgres_admin_url).set(database=name).render_as_string(hide_password=False)
        )
        return url

    yield create

    if os.environ.get(POSTGRES_ENV) and created:
        drops = [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in created]
        try:
            _run_coroutine(_execute(postgres_admin_url, *drops))
        except Exception as error:  # cleanup only; the tests' outcome stands
            print(f"could not drop the test databases {created}: {error}")
