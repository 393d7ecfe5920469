"""`make run`: Kafka, the four services and the gateway on this machine, SQLite files as the
databases, the demo catalog seeded; a process that crashes is started again (the rest keep
running); Ctrl-C or SIGTERM stops everything cleanly."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path
from types import FrameType

from deploy.local.kafka import REPO_ROOT, LocalKafka, ensure_jars
from deploy.local.processes import service_processes, start_all, stop_all
from deploy.local.supervisor import Supervised, Supervisor


class SupervisedKafka:
    """A local broker as the supervisor sees it."""

    def __init__(self, kafka: LocalKafka, name: str = "kafka") -> None:
        self.kafka = kafka
        self.name = name

    def alive(self) -> bool:
        return self.kafka.running

    def exit_code(self) -> int | None:
        return self.kafka.exit_code()

    def restart(self) -> None:
        self.kafka.stop()
        self.kafka.start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run-dir", type=Path, default=REPO_ROOT / ".run")
    parser.add_argument("--kafka-port", type=int, default=9092)
    args = parser.parse_args()
    run_dir: Path = args.run_dir
    log_dir = run_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    kafka: LocalKafka | None = None
    if external:
        bootstrap = external
        print(f"using the Kafka broker at {bootstrap}")
    else:
        ensure_jars()
        kafka = LocalKafka(
            port=args.kafka_port,
            controller_port=args.kafka_port + 1,
            data_dir=run_dir / "kafka",
            log_file=log_dir / "kafka.log",
        )
        print("starting Kafka ...", flush=True)
        kafka.start()
        bootstrap = kafka.bootstrap_servers

    processes = service_processes(
        kafka_bootstrap_servers=bootstrap,
        data_dir=run_dir / "data",
        log_dir=log_dir,
        extra_env={"SEED_DEMO_CATALOG": "1"},
    )
    try:
        print("starting customers, billing, tickets, activity and the gateway ...", flush=True)
        start_all(processes)
        gateway = processes[-1].url
        # The gateway prints a generated admin password once, into its own log: show it here.
        for line in processes[-1].log_file.read_text(errors="replace").splitlines():
            if line.startswith("First start: created admin operator"):
                print(line, flush=True)
        print(
            "\nThe system is up.\n"
            f"  console and API   {gateway}/   (OpenAPI: {gateway}/docs)\n"
            + "".join(
                f"  {p.name:<17} {p.url}/docs  AsyncAPI: {p.url}/asyncapi.json\n"
                for p in processes[:-1]
            )
            + f"  Kafka             {bootstrap}\n"
            f"  logs              {log_dir}/\n"
            "A process that crashes is started again; Ctrl-C stops everything.",
            flush=True,
        )
        watched: list[Supervised] = [*processes]
        if kafka is not None:
            watched.insert(0, SupervisedKafka(kafka))
        supervisor = Supervisor(watched, say=lambda line: print(line, flush=True))
        while not stop.is_set():
            supervisor.check()
            stop.wait(1.0)
        return 0
    finally:
        print("stopping ...", flush=True)
        stop_all(processes)
        if kafka is not None:
            kafka.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
