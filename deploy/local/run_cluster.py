"""`make cluster`: three Kafka brokers (KRaft, replication 3, min.insync.replicas 2), one
PostgreSQL and two replicas of every service and of the gateway on this machine, the demo
catalog seeded; a process or broker that dies is started again; Ctrl-C or SIGTERM stops all.

Each run starts empty: the run directory is cleared first, PostgreSQL's data is thrown away at
the stop. Kafka wants SASL/SCRAM with a user per process and ACLs; the admin user's settings,
for tools, are written to `<run dir>/kafka-admin.env` (owner only). See docs/deploy.md ("The
local cluster") for the ports, the ACLs and how to kill a broker.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import threading
from pathlib import Path
from types import FrameType

from deploy.local.cluster import REPLICAS, LocalCluster
from deploy.local.kafka import REPO_ROOT
from deploy.local.run_system import SupervisedKafka
from deploy.local.supervisor import Supervised, Supervisor


def _summary(cluster: LocalCluster) -> str:
    kafka = cluster.kafka
    lines = ["", "The cluster is up."]
    for replica in REPLICAS:
        url = cluster.gateway_url(replica)
        lines.append(f"  gateway {replica}         {url}/   (OpenAPI: {url}/docs)")
    for replica in REPLICAS:
        services = "  ".join(
            f"{p.name} :{p.port}"
            for p in cluster.processes
            if p.name.endswith(f"-{replica}") and not p.name.startswith("gateway")
        )
        lines.append(f"  services {replica}        {services}")
    for node in kafka.nodes:
        lines.append(
            f"  kafka-{node.node_id}           {node.bootstrap_servers} "
            f"(controller :{node.controller_port}, pid {node.pid})"
        )
    if cluster.postgres is not None:
        lines.append(f"  PostgreSQL        {cluster.postgres.admin_url}")
    lines += [
        f"  KAFKA_BOOTSTRAP_SERVERS={kafka.bootstrap_servers}",
        f"  Kafka admin (SASL/SCRAM) for tools: set -a; . {admin_env_file(cluster)}; set +a",
        f"  logs              {cluster.log_dir}/",
        "A process or broker that dies is started again; Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


def admin_env_file(cluster: LocalCluster) -> Path:
    return cluster.run_dir / "kafka-admin.env"


def write_admin_env(cluster: LocalCluster) -> Path:
    """The admin user's Kafka settings as a shell file only its owner may read."""
    path = admin_env_file(cluster)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("".join(f"{key}={value}\n" for key, value in cluster.admin_env().items()))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run-dir", type=Path, default=REPO_ROOT / ".run" / "cluster")
    parser.add_argument("--broker-heap", default="384m", help="each broker's JVM -Xmx")
    args = parser.parse_args()
    run_dir: Path = args.run_dir
    shutil.rmtree(run_dir, ignore_errors=True)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    cluster = LocalCluster(run_dir=run_dir, broker_heap=args.broker_heap)
    try:
        print("starting three Kafka brokers, PostgreSQL and two replicas of each process ...")
        cluster.start()
        write_admin_env(cluster)
        # A generated admin password is printed once, into the gateway's log that created it.
        for replica in REPLICAS:
            log = cluster.process("gateway", replica).log_file
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith("First start: created admin operator"):
                    print(line, flush=True)
        print(_summary(cluster), flush=True)
        watched: list[Supervised] = [
            *(SupervisedKafka(node, f"kafka-{node.node_id}") for node in cluster.kafka.nodes),
            *cluster.processes,
        ]
        supervisor = Supervisor(watched, say=lambda line: print(line, flush=True))
        while not stop.is_set():
            supervisor.check()
            stop.wait(1.0)
        return 0
    finally:
        print("stopping ...", flush=True)
        cluster.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
