"""Test helpers shared by every service's tests: a migrated database on SQLite or PostgreSQL,
a producer that records what it was asked to send, hand-built Kafka records, the outbox read."""

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from aiokafka.structs import ConsumerRecord, RecordMetadata
from sqlalchemy import MetaData, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.envelope import CloudEvent, EventData
from services.runtime.db import Database
from services.runtime.migrations import upgrade
from services.runtime.outbox import Outbox
from services.runtime.producer import Producer
from services.runtime.service_app import Runtime, ServiceSpec, build_runtime, create_app
from services.runtime.service_auth import ServiceTokenAuth

# Every database-backed test runs once per backend; the PostgreSQL case carries its marker so
# `-m "not postgres"` keeps a run free of servers.
BACKENDS = (
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
)


_POSTGRES_DATABASES = pytest.StashKey[dict[str, str]]()


def _backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    if backend not in ("sqlite", "postgres"):
        raise ValueError(f"unknown backend {backend!r}")
    return backend


def _postgres_database(request: pytest.FixtureRequest, name: str) -> tuple[str, bool]:
    """The session's PostgreSQL database for `name` and whether it is new.

    Creating a database costs a few hundred milliseconds (most of a test's time), so each
    name gets one per session and the tests after the first find it emptied (`_empty`).
    """
    urls = request.config.stash.setdefault(_POSTGRES_DATABASES, {})
    if name in urls:
        return urls[name], False
    # Asked for lazily, so a SQLite-only run never starts a PostgreSQL server.
    new_postgres_database = request.getfixturevalue("new_postgres_database")
    url: str = new_postgres_database(f"test_{name}")
    urls[name] = url
    return url, True


async def _empty(database: Database, metadata: MetaData) -> None:
    """Delete every row of `metadata`'s tables: the state of a fresh, migrated database.
    (DELETE, children first: on a few rows it is many times faster than TRUNCATE.)"""
    async with database.transaction() as session:
        for table in reversed(metadata.sorted_tables):
            await session.execute(table.delete())


_SQLITE_TEMPLATES = pytest.StashKey[dict[str, Path]]()


async def _sqlite_database(
    request: pytest.FixtureRequest, tmp_path: Path, name: str, migrations_dir: Path
) -> str:
    """A copy, in `tmp_path`, of a SQLite file migrated once per session."""
    templates = request.config.stash.setdefault(_SQLITE_TEMPLATES, {})
    template = templates.get(name)
    if template is None:
        factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
        template = factory.mktemp("migrated") / f"{name}.db"
        # Alembic's engine uses no pool: the file is closed (WAL checkpointed) on return.
        await asyncio.to_thread(upgrade, migrations_dir, f"sqlite+aiosqlite:///{template}")
        templates[name] = template
    copy = tmp_path / f"{name}.db"
    shutil.copyfile(template, copy)
    return f"sqlite+aiosqlite:///{copy}"


@asynccontextmanager
async def migrated_database(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    *,
    name: str,
    migrations_dir: Path,
    metadata: MetaData,
) -> AsyncIterator[Database]:
    """An empty database of the backend in `request.param` whose schema was made by the
    service's own Alembic migrations (what the service runs at start).

    Each is migrated once per session: SQLite tests get a copy of the migrated file;
    PostgreSQL tests share a database from `new_postgres_database`, emptied before each test.
    """
    if _backend(request) == "sqlite":
        url = await _sqlite_database(request, tmp_path, name, migrations_dir)
        new = True
    else:
        url, new = _postgres_database(request, name)
        if new:
            await asyncio.to_thread(upgrade, migrations_dir, url)
    database = Database(url)
    try:
        if not new:
            await _empty(database, metadata)
        yield database
    finally:
        await database.dispose()


@asynccontextmanager
async def created_database(
    request: pytest.FixtureRequest, tmp_path: Path, *, name: str, metadata: MetaData
) -> AsyncIterator[Database]:
    """Like `migrated_database`, for test-only tables made by `metadata.create_all`."""
    if _backend(request) == "sqlite":
        url, new = f"sqlite+aiosqlite:///{tmp_path / f'{name}.db'}", True
    else:
        url, new = _postgres_database(request, name)
    database = Database(url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        if not new:
            await _empty(database, metadata)
        yield database
    finally:
        await database.dispose()


@dataclass(frozen=True)
class Sent:
    topic: str
    value: bytes | None
    key: bytes | None
    headers: list[tuple[str, bytes]]

    def header(self, name: str) -> str:
        values = [v.decode() for k, v in self.headers if k == name]
        assert len(values) == 1, f"expected one {name!r} header in {self.headers}"
        return values[0]


@dataclass
class RecordingProducer:
    """Stands in for services.runtime.producer.Producer; keeps every record it is given."""

    sent: list[Sent] = field(default_factory=list)

    async def send(
        self,
        topic: str,
        *,
        value: bytes | None,
        key: bytes | None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> "asyncio.Future[RecordMetadata]":
        self.sent.append(Sent(topic, value, key, list(headers)))
        delivered: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
        delivered.set_result(cast(RecordMetadata, None))
        return delivered

    async def send_and_wait(
        self,
        topic: str,
        *,
        value: bytes | None,
        key: bytes | None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> RecordMetadata:
        return await (await self.send(topic, value=value, key=key, headers=headers))

    def as_producer(self) -> Producer:
        return cast(Producer, self)


def event_bytes(data: EventData, *, source: str = "/tests", event_id: str | None = None) -> bytes:
    """`data` in its CloudEvents envelope, as it travels on a topic."""
    return CloudEvent.wrap(data, source=source, subject=None, event_id=event_id).to_bytes()


def envelope_bytes(event_type: str, data: dict[str, Any], *, event_id: str = "e-1") -> bytes:
    """An envelope with any type and data, valid or not as far as the payload goes."""
    return json.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "/tests",
            "type": event_type,
            "time": "2025-01-01T00:00:00Z",
            "data": data,
        }
    ).encode()


def consumer_record(
    topic: str,
    value: bytes,
    *,
    key: bytes | None = b"customer-1",
    partition: int = 0,
    offset: int = 0,
    headers: Sequence[tuple[str, bytes]] = (),
) -> "ConsumerRecord[bytes, bytes]":
    return ConsumerRecord(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key or b""),
        serialized_value_size=len(value),
        headers=list(headers),
    )


@dataclass(frozen=True)
class OutboxRow:
    topic: str
    key: str
    bucket: int
    event: CloudEvent

    @property
    def type(self) -> str:
        return self.event.type

    @property
    def data(self) -> dict[str, Any]:
        return self.event.data


async def outbox_rows(db: Database, outbox: Table) -> list[OutboxRow]:
    """The outbox in commit order, payloads parsed back into envelopes."""
    async with db.sessions() as session:
        rows = (await session.execute(select(outbox).order_by(outbox.c.id))).all()
    return [
        OutboxRow(
            topic=row.topic,
            key=row.key,
            bucket=row.bucket,
            event=CloudEvent.model_validate_json(row.payload),
        )
        for row in rows
    ]


def of_type(rows: list[OutboxRow], event_type: str) -> list[OutboxRow]:
    return [row for row in rows if row.type == event_type]


@asynccontextmanager
async def service_runtime(
    spec: ServiceSpec, db: Database, **settings_overrides: Any
) -> AsyncIterator[Runtime]:
    """The service wired as it runs (handlers, consumer, outbox) on `db`'s database, with no
    broker connection: feed records to `runtime.consumer.process`. Dead letters are recorded
    by a RecordingProducer in `runtime.consumer.producer`."""
    settings = spec.settings(database_url=db.url, port=0, **settings_overrides)
    runtime = build_runtime(spec, settings)
    runtime.consumer.producer = RecordingProducer().as_producer()
    try:
        yield runtime
    finally:
        await runtime.db.dispose()


def service_database_fixture(
    spec: ServiceSpec,
    prepare: Callable[[AsyncSession], Awaitable[object]] | None = None,
) -> Any:
    """A `db` fixture for a service's tests: its migrated database on each backend, optionally
    prepared (e.g. a catalog seeded) before each test."""

    @pytest.fixture(params=BACKENDS)
    async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
        async with migrated_database(
            request,
            tmp_path,
            name=spec.name,
            migrations_dir=spec.migrations_dir,
            metadata=spec.metadata,
        ) as database:
            if prepare is not None:
                async with database.transaction() as session:
                    await prepare(session)
            yield database

    return db


def service_outbox_fixture(spec: ServiceSpec) -> Any:
    """An `outbox` fixture writing the service's outbox table, as its routes and handlers do."""

    @pytest.fixture
    def outbox() -> Outbox:
        return Outbox(
            spec.metadata.tables["outbox"], source=f"/services/{spec.name}", on_commit=lambda: None
        )

    return outbox


async def migrated_sqlite_url(
    request: pytest.FixtureRequest, tmp_path: Path, spec: ServiceSpec
) -> str:
    """A SQLite file in `tmp_path` with `spec`'s schema, from a copy migrated once per session
    (for tests that build a service's whole app rather than take the `db` fixture)."""
    return await _sqlite_database(request, tmp_path, spec.name, spec.migrations_dir)


def service_api_fixture(spec: ServiceSpec) -> Any:
    """An `api` fixture: the service's internal HTTP API on the `db` fixture's database, as an
    httpx client. Its lifespan (which starts Kafka) is not entered: the routes write the
    outbox, and nothing relays it."""

    @pytest.fixture
    async def api(db: Database) -> AsyncIterator[httpx.AsyncClient]:
        settings = spec.settings(database_url=db.url, port=0)
        app = create_app(spec, settings)
        transport = httpx.ASGITransport(app=app)
        # Signed as the gateway signs its calls: the service's token check stays on.
        auth = ServiceTokenAuth(settings.service_token_key, actor="tests")
        try:
            async with httpx.AsyncClient(
                transport=transport, base_url=f"http://{spec.name}.test", auth=auth
            ) as http:
                yield http
        finally:
            await app.state.runtime.db.dispose()

    return api
