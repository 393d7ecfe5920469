"""A throwaway PostgreSQL server run from the distribution's binaries, without Docker.

Used by the tests (root conftest.py) on machines without a Docker engine. The binaries come
from the newest /usr/lib/postgresql/<version>/bin (Debian's layout; env PG_BIN_DIR overrides).
The server is tuned for tests, not for durability: fsync, synchronous_commit (unless
`durable_commits`, which the fault campaign asks for) and full_page_writes are off, and
authentication is `trust` for the `postgres` superuser.

initdb refuses to run as root, so under root the data directory is handed to the `postgres`
user and initdb/pg_ctl run through `runuser`; the directory (and every parent) must then be
traversable by that user: put it under /tmp (mode 0o755), not under /root.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Final

PG_BIN_DIR_ENV: Final = "PG_BIN_DIR"
SERVICE_USER: Final = "postgres"
_DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def find_bin_dir() -> Path:
    """The newest /usr/lib/postgresql/*/bin holding initdb (env PG_BIN_DIR wins), else PATH."""
    configured = os.environ.get(PG_BIN_DIR_ENV)
    if configured:
        return Path(configured)
    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").is_file()]

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))

    if candidates:
        return max(candidates, key=version)
    initdb = shutil.which("initdb")
    if initdb is not None:
        return Path(initdb).parent
    raise RuntimeError(
        "no PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin and PATH); "
        "Debian: apt-get install -y postgresql"
    )


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class LocalPostgres:
    """One PostgreSQL server on 127.0.0.1:`port`, its cluster in `data_dir`/pgdata.

    The cluster is created on the first start only; the server's output goes to `log_file`.
    """

    def __init__(
        self, *, port: int, data_dir: Path, log_file: Path, durable_commits: bool = False
    ) -> None:
        self.port = port
        # With synchronous_commit off, a commit is answered before its WAL is written: a server
        # killed then (`crash()`) forgets it, though the client was told it committed. The
        # fault campaign kills its server, so it wants every acknowledged commit kept.
        self.durable_commits = durable_commits
        self.data_dir = Path(data_dir)
        self.log_file = Path(log_file)
        self.bin_dir = find_bin_dir()
        self._as_service_user = os.geteuid() == 0
        self._started = False

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def socket_dir(self) -> Path:
        return self.data_dir / "sockets"

    @property
    def admin_url(self) -> str:
        """SQLAlchemy URL (asyncpg driver) of the `postgres` database as the superuser."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        """SQLAlchemy URL (asyncpg driver) of `database` as the superuser."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _command(self, tool: str, *args: str) -> list[str]:
        command = [str(self.bin_dir / tool), *args]
        if self._as_service_user:
            return ["runuser", "-u", SERVICE_USER, "--", *command]
        return command

    def _run(self, tool: str, *args: str, log: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a server tool, its output appended to the log file (or captured if not `log`)."""
        command = self._command(tool, *args)
        if log:
            with self.log_file.open("a") as handle:
                handle.write(f"--- {tool} {' '.join(args)}\n")
                handle.flush()
                return subprocess.run(
                    command,
                    cwd=self.data_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    text=True,
                    check=False,
                )
        return subprocess.run(
            command,
            cwd=self.data_dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )

    def _prepare_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        if not self._as_service_user:
            return
        for path in (self.data_dir, self.socket_dir):
            shutil.chown(path, SERVICE_USER, SERVICE_USER)
        if self.pgdata.exists():
            shutil.chown(self.pgdata, SERVICE_USER, SERVICE_USER)
        check = subprocess.run(
            ["runuser", "-u", SERVICE_USER, "--", "test", "-w", str(self.data_dir)],
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if check.returncode != 0:
            raise RuntimeError(
                f"the {SERVICE_USER} user cannot reach {self.data_dir}; put the data directory "
                "where every parent is traversable by others (e.g. under /tmp, mode 0o755)"
            )

    def start(self, timeout: float = 60) -> None:
        """Create the cluster if needed, start the server and wait until it accepts connections."""
        if self._started:
            return
        self._prepare_dirs()
        if not (self.pgdata / "PG_VERSION").is_file():
            result = self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            )
            if result.returncode != 0:
                raise RuntimeError(
                    f"initdb failed (exit {result.returncode}); log {self.log_file}:\n"
                    f"{_tail(self.log_file)}"
                )
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-p {self.port}",
                f"-k {self.socket_dir}",
                "-c fsync=off",
                f"-c synchronous_commit={'on' if self.durable_commits else 'off'}",
                "-c full_page_writes=off",
                "-c max_connections=300",
            ]
        )
        # pg_ctl's output, and the server's after it, go to the log file through an inherited
        # descriptor (root opens it), so the service user needs no access to the log's directory.
        result = self._run(
            "pg_ctl", "start", "-w", "-t", str(int(timeout)), "-D", str(self.pgdata), "-o", options
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"pg_ctl start failed (exit {result.returncode}); log {self.log_file}:\n"
                f"{_tail(self.log_file)}"
            )
        self._started = True
        atexit.register(self.stop)
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pg_isready = str(self.bin_dir / "pg_isready")
        while True:
            ready = subprocess.run(
                [pg_isready, "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"],
                stdin=subprocess.DEVNULL,
                check=False,
            )
            if ready.returncode == 0:
                return
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(
                    f"PostgreSQL did not accept connections on port {self.port} within "
                    f"{timeout:.0f} s; log {self.log_file}:\n{_tail(self.log_file)}"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        """Fast shutdown (`pg_ctl stop -m fast`): open sessions are ended, nothing is lost."""
        atexit.unregister(self.stop)
        if not self._started:
            return
        self._started = False
        self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.pgdata))

    def crash(self) -> None:
        """`pg_ctl stop -m immediate`: the server ends at once, without a checkpoint, as if the
        machine lost power (the fault campaign's PostgreSQL outage); `start()` recovers it."""
        if not self._started:
            return
        result = self._run("pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(self.pgdata))
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl stop -m immediate failed; log {self.log_file}")
        self._started = False
        atexit.unregister(self.stop)

    def create_database(self, name: str) -> str:
        """Create database `name` (lower-case identifier) and return its SQLAlchemy URL."""
        if not _DATABASE_NAME.fullmatch(name):
            raise ValueError(f"not a plain lower-case database name: {name!r}")
        result = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                f'CREATE DATABASE "{name}"',
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"CREATE DATABASE {name} failed: {result.stderr.strip()}")
        return self.url(name)

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
