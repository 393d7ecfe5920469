"""Kafka brokers (KRaft, broker + controller in one JVM each) run without Docker: one node, or
a quorum of several (`LocalKafkaCluster`, `make cluster`).

Used by the tests (root conftest.py) and by local runs on machines without a Docker engine.
The broker jars are listed in deploy/kafka/pom.xml; `ensure_jars` copies them once with Maven
into a cache (`<repo>/.cache/kafka-4.1.1/libs`, or the directory in env KAFKA_JARS_DIR), and
`LocalKafka` runs `kafka.Kafka` from that class path with its own data directory and log file.

Needs `java` (17+) and, for the first fetch only, `mvn`.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

from aiokafka.client import AIOKafkaClient

from deploy.kafka_acls import Acl
from deploy.local.kafka_auth import ADMIN, ClusterAuth, create_acls

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
KAFKA_VERSION: Final = "4.1.1"
POM: Final = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
LOG4J2_CONFIG: Final = REPO_ROOT / "deploy" / "kafka" / "log4j2.properties"
JARS_DIR_ENV: Final = "KAFKA_JARS_DIR"
_MARKER: Final = ".complete"


def default_jars_dir() -> Path:
    """Where the broker jars are cached: env KAFKA_JARS_DIR, else `<repo>/.cache/kafka-*/libs`."""
    configured = os.environ.get(JARS_DIR_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    return REPO_ROOT / ".cache" / f"kafka-{KAFKA_VERSION}" / "libs"


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def _jars_complete(directory: Path) -> bool:
    marker = directory / _MARKER
    try:
        return marker.read_text().strip() == _pom_digest()
    except OSError:
        return False


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock, so two processes don't fetch into the same cache at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_jars(cache_dir: Path | None = None) -> Path:
    """Return a directory holding every jar the broker needs, fetching them with Maven once.

    A marker file (holding the pom's digest) is written only after a complete fetch, so an
    interrupted fetch, or a changed pom, is redone on the next call.
    """
    target = (cache_dir or default_jars_dir()).resolve()
    if _jars_complete(target):
        return target
    with _file_lock(target.parent / f".{target.name}.lock"):
        if _jars_complete(target):  # fetched by another process meanwhile
            return target
        mvn = shutil.which("mvn")
        if mvn is None:
            raise RuntimeError(
                "Maven (`mvn`) is needed once to fetch the Kafka broker jars "
                f"into {target}; install it (Debian: apt-get install -y maven)"
            )
        partial = target.with_name(f"{target.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        command = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}",
            "-DincludeScope=runtime",
        ]
        result = subprocess.run(
            command,
            cwd=POM.parent,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            raise RuntimeError(
                f"fetching the Kafka jars failed (exit {result.returncode}):\n{output[-4000:]}"
            )
        if not any(partial.glob("kafka_2.13-*.jar")):
            raise RuntimeError(f"Maven finished but no kafka_2.13 jar is in {partial}")
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
        (target / _MARKER).write_text(_pom_digest() + "\n")
    return target


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the usual small race applies)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def random_cluster_id() -> str:
    """A KRaft cluster id, as `kafka-storage random-uuid` makes it (without starting a JVM)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode("ascii")
        if not cluster_id.startswith("-"):
            return cluster_id


def find_java() -> str:
    """The `java` executable: $JAVA_HOME/bin/java, else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise RuntimeError(
            "`java` (17+) is needed to run the local Kafka broker "
            "(Debian: apt-get install -y openjdk-17-jre-headless)"
        )
    return java


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


async def _probe(
    bootstrap_servers: str, brokers: int, client_options: Mapping[str, Any] | None = None
) -> bool:
    """True once the broker answers metadata requests, lists `brokers` brokers (itself at
    least) and knows its controller."""
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=5000, **(client_options or {})
    )
    try:
        await client.bootstrap()
        listed = len(client.cluster.brokers())
        return listed >= brokers and client.cluster.controller is not None
    except Exception:
        return False
    finally:
        await client.close()


def broker_answers(
    bootstrap_servers: str,
    host: str,
    port: int,
    *,
    brokers: int = 1,
    client_options: Mapping[str, Any] | None = None,
) -> bool:
    """One readiness check: a TCP connect first (cheap, quiet), then a metadata request that
    must list at least `brokers` brokers (a quorum member waits for its peers); on a broker
    that wants SASL, with the credentials in `client_options` (aiokafka's keywords)."""
    try:
        with socket.create_connection((host, port), timeout=1):
            pass
    except OSError:
        return False
    result: list[bool] = []
    # A thread of its own, so this works even when the caller runs inside an event loop.
    thread = threading.Thread(
        target=lambda: result.append(
            asyncio.run(_probe(bootstrap_servers, brokers, client_options))
        )
    )
    thread.start()
    thread.join()
    return bool(result and result[0])


class LocalKafka:
    """One KRaft broker+controller JVM on 127.0.0.1, with its data under `data_dir`.

    `data_dir` holds `server.properties` and the log directory `kraft-logs/`; the storage is
    formatted on the first start only, so a stopped broker can be started again with its data.
    Alone by default; as a member of a quorum (`LocalKafkaCluster`) it is given its node id,
    the voters, the cluster id formatted on every member and the replication of the cluster.
    Plaintext without ACLs by default; with `auth`, clients must authenticate with SASL/SCRAM
    and are allowed only what an ACL grants (deploy/local/kafka_auth.py).
    """

    def __init__(
        self,
        *,
        port: int,
        controller_port: int,
        data_dir: Path,
        log_file: Path,
        jars_dir: Path | None = None,
        heap: str = "512m",
        node_id: int = 1,
        quorum_voters: str | None = None,
        cluster_id: str | None = None,
        replication_factor: int = 1,
        auth: ClusterAuth | None = None,
    ) -> None:
        self.port = port
        self.controller_port = controller_port
        self.data_dir = Path(data_dir)
        self.log_file = Path(log_file)
        self.jars_dir = jars_dir
        self.heap = heap
        self.node_id = node_id
        self.quorum_voters = quorum_voters or f"{node_id}@127.0.0.1:{controller_port}"
        self.cluster_id = cluster_id
        self.replication_factor = replication_factor
        self.auth = auth
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "kraft-logs"

    @property
    def config_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def exit_code(self) -> int | None:
        """How the broker's JVM ended (negative: killed by that signal); None while it runs."""
        return None if self._process is None else self._process.poll()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def client_options(self) -> dict[str, Any]:
        """aiokafka keywords for the admin user (empty without auth): what setup and probes use."""
        if self.auth is None:
            return {}
        return self.auth.security(ADMIN).client_options()

    @property
    def brokers_expected(self) -> int:
        """How many brokers must be listed before this one counts as ready: the voters."""
        return len(self.quorum_voters.split(","))

    def _server_properties(self) -> str:
        replicas = self.replication_factor
        # With three replicas a write is acknowledged once two hold it, so one broker may be
        # lost without losing an acknowledged write or refusing new ones.
        min_insync = 2 if replicas >= 3 else 1
        # With auth the client listener is called CLIENT, since it speaks SASL_PLAINTEXT.
        client = "PLAINTEXT" if self.auth is None else "CLIENT"
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.quorum_voters,
            "listeners": (
                f"{client}://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"{client}://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.logs_dir),
            "num.partitions": "6",
            "auto.create.topics.enable": "false",
            "default.replication.factor": str(replicas),
            "min.insync.replicas": str(min_insync),
            "offsets.topic.replication.factor": str(replicas),
            "transaction.state.log.replication.factor": str(replicas),
            "transaction.state.log.min.isr": str(min_insync),
            "unclean.leader.election.enable": "false",
            "group.initial.rebalance.delay.ms": "0",
            **(self.auth.server_properties() if self.auth is not None else {}),
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def _java(self, jars: Path, *args: str) -> list[str]:
        return [
            find_java(),
            f"-Xmx{self.heap}",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
            "-cp",
            f"{jars}/*",
            *args,
        ]

    def _format_storage(self, jars: Path, log: IO[bytes]) -> None:
        if (self.logs_dir / "meta.properties").is_file():
            return
        command = self._java(
            jars,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            self.cluster_id or random_cluster_id(),
            "-c",
            str(self.config_file),
            *(self.auth.scram_arguments() if self.auth is not None else ()),
        )
        log.write(b"--- formatting storage\n")
        log.flush()
        result = subprocess.run(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"formatting the Kafka storage in {self.logs_dir} failed "
                f"(exit {result.returncode}):\n{_tail(self.log_file)}"
            )

    def start(self, timeout: float = 60) -> None:
        """Format the storage if needed, launch the broker and wait until it answers."""
        if self.running:
            return
        self.launch()
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def launch(self) -> None:
        """Format the storage if needed and start the JVM, without waiting for it: members of a
        quorum are launched together, since none is ready before a majority runs."""
        if self.running:
            return
        jars = ensure_jars(self.jars_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        # Owner only: with auth it holds the brokers' own password.
        self.config_file.touch(mode=0o600)
        self.config_file.chmod(0o600)
        self.config_file.write_text(self._server_properties())
        if self._log is not None:  # left open by a JVM that was killed
            self._log.close()
        self._log = self.log_file.open("ab")
        try:
            self._format_storage(jars, self._log)
            self._log.write(b"--- starting broker\n")
            self._log.flush()
            self._process = subprocess.Popen(
                self._java(jars, "kafka.Kafka", str(self.config_file)),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            atexit.register(self.stop)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            process = self._process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                raise RuntimeError(
                    f"the Kafka broker exited (code {code}) while starting; "
                    f"log {self.log_file}:\n{_tail(self.log_file)}"
                )
            if broker_answers(
                self.bootstrap_servers,
                "127.0.0.1",
                self.port,
                brokers=self.brokers_expected,
                client_options=self.client_options,
            ):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the Kafka broker did not answer on {self.bootstrap_servers} within "
                    f"{timeout:.0f} s; log {self.log_file}:\n{_tail(self.log_file)}"
                )
            time.sleep(0.25)

    def kill(self) -> None:
        """SIGKILL: the JVM ends without its shutdown, as when a machine dies."""
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self, grace: float = 20) -> None:
        """SIGTERM to the broker's process group, then SIGKILL after `grace` seconds."""
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalKafka:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class LocalKafkaCluster:
    """`size` brokers in KRaft mode, each broker and controller (node ids 1..size), every one a
    voter of the controller quorum, one cluster id formatted on all; replication `size` (at most
    3) for the internal topics and as the default, `min.insync.replicas` 2 from 3 replicas on.

    Node `n` keeps its data in `data_dir/kafka-n` and logs to `log_dir/kafka-n.log`.
    With `auth`, every node wants SASL/SCRAM from clients and authorizes with ACLs; `acls`
    are created once the cluster is up (deploy/local/kafka_auth.py).
    """

    def __init__(
        self,
        *,
        ports: Sequence[int],
        controller_ports: Sequence[int],
        data_dir: Path,
        log_dir: Path,
        heap: str = "384m",
        jars_dir: Path | None = None,
        auth: ClusterAuth | None = None,
        acls: Iterable[Acl] = (),
    ) -> None:
        if len(ports) != len(controller_ports) or not ports:
            raise ValueError("one client port and one controller port per node")
        voters = ",".join(
            f"{node_id}@127.0.0.1:{port}" for node_id, port in enumerate(controller_ports, 1)
        )
        cluster_id = random_cluster_id()
        self.auth = auth
        self.acls = frozenset(acls)
        if self.acls and auth is None:
            raise ValueError("ACLs need auth: without it every client may do anything")
        self.nodes = [
            LocalKafka(
                port=port,
                controller_port=controller_port,
                data_dir=Path(data_dir) / f"kafka-{node_id}",
                log_file=Path(log_dir) / f"kafka-{node_id}.log",
                jars_dir=jars_dir,
                heap=heap,
                node_id=node_id,
                quorum_voters=voters,
                cluster_id=cluster_id,
                replication_factor=min(3, len(ports)),
                auth=auth,
            )
            for node_id, (port, controller_port) in enumerate(
                zip(ports, controller_ports, strict=True), 1
            )
        ]

    @property
    def bootstrap_servers(self) -> str:
        """Every node, so a client still finds the cluster while any one of them is down."""
        return ",".join(node.bootstrap_servers for node in self.nodes)

    @property
    def replication_factor(self) -> int:
        return self.nodes[0].replication_factor

    def node(self, node_id: int) -> LocalKafka:
        return self.nodes[node_id - 1]

    def node_on_port(self, port: int) -> LocalKafka:
        return next(node for node in self.nodes if node.port == port)

    def start(self, timeout: float = 120) -> None:
        """Launch every node at once (none is ready before a majority of voters runs), then
        wait until each lists all of them."""
        ensure_jars(self.nodes[0].jars_dir)
        try:
            # Side by side: formatting the storage is a JVM start of its own per node.
            with ThreadPoolExecutor(len(self.nodes)) as pool:
                for launched in [pool.submit(node.launch) for node in self.nodes]:
                    launched.result()
            deadline = time.monotonic() + timeout
            for node in self.nodes:
                node.wait_ready(max(1.0, deadline - time.monotonic()))
            if self.acls:
                self._create_acls()
        except BaseException:
            self.stop()
            raise

    @property
    def client_options(self) -> dict[str, Any]:
        """aiokafka keywords for the admin user (empty without auth)."""
        return self.nodes[0].client_options

    def _create_acls(self) -> None:
        assert self.auth is not None
        security = self.auth.security(ADMIN)
        # A thread of its own, so this works even when the caller runs inside an event loop.
        errors: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(create_acls(self.bootstrap_servers, security, self.acls))
            except BaseException as error:
                errors.append(error)

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        if errors:
            raise errors[0]

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> LocalKafkaCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
