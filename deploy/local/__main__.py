"""Command line for the Docker-free local servers.

python -m deploy.local fetch-kafka [--dir DIR]     fetch the Kafka broker jars once
python -m deploy.local kafka [--port 9092] ...      run a Kafka broker until Ctrl-C
python -m deploy.local postgres [--port 5432] ...   run a PostgreSQL server until Ctrl-C
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType

from deploy.local.kafka import REPO_ROOT, LocalKafka, ensure_jars
from deploy.local.postgres import LocalPostgres


def _wait_for_signal() -> None:
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    stop.wait()


def _fetch_kafka(args: argparse.Namespace) -> int:
    directory = ensure_jars(args.dir)
    print(f"Kafka broker jars in {directory}")
    return 0


def _kafka(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir
    broker = LocalKafka(
        port=args.port,
        controller_port=args.controller_port,
        data_dir=data_dir,
        log_file=args.log_file or data_dir / "kafka.log",
    )
    broker.start(timeout=args.timeout)
    print(f"Kafka on {broker.bootstrap_servers} (data {data_dir}); Ctrl-C stops it", flush=True)
    try:
        _wait_for_signal()
    finally:
        broker.stop()
    return 0


def _postgres(args: argparse.Namespace) -> int:
    data_dir: Path | None = args.data_dir
    throwaway = data_dir is None
    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="tvcm-postgres-"))
        os.chmod(data_dir, 0o755)
    server = LocalPostgres(
        port=args.port,
        data_dir=data_dir,
        log_file=args.log_file or REPO_ROOT / ".run" / "postgres.log",
    )
    try:
        server.start(timeout=args.timeout)
        for name in args.database:
            server.create_database(name)
        print(f"PostgreSQL at {server.admin_url} (data {data_dir}); Ctrl-C stops it", flush=True)
        _wait_for_signal()
    finally:
        server.stop()
        if throwaway:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.local",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    fetch = commands.add_parser("fetch-kafka", help="fetch the Kafka broker jars into the cache")
    fetch.add_argument("--dir", type=Path, default=None, help="cache directory (default: ours)")
    fetch.set_defaults(run=_fetch_kafka)

    kafka = commands.add_parser("kafka", help="run a single-node Kafka broker in the foreground")
    kafka.add_argument("--port", type=int, default=9092)
    kafka.add_argument("--controller-port", type=int, default=9093)
    kafka.add_argument("--data-dir", type=Path, default=REPO_ROOT / ".run" / "kafka")
    kafka.add_argument("--log-file", type=Path, default=None)
    kafka.add_argument("--timeout", type=float, default=60)
    kafka.set_defaults(run=_kafka)

    postgres = commands.add_parser("postgres", help="run a PostgreSQL server in the foreground")
    postgres.add_argument("--port", type=int, default=5432)
    postgres.add_argument(
        "--data-dir", type=Path, default=None, help="default: a new directory under /tmp"
    )
    postgres.add_argument("--log-file", type=Path, default=None)
    postgres.add_argument("--timeout", type=float, default=60)
    postgres.add_argument(
        "--database", action="append", default=[], help="create this database (repeatable)"
    )
    postgres.set_defaults(run=_postgres)

    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
