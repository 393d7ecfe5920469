"""How `make cluster` hands out its Kafka credentials, without starting anything: each process
gets its own user alone, the admin's settings go to an owner-only file, no password is on the
storage tool's command line, and the brokers' settings refuse what no ACL allows."""

from __future__ import annotations

import base64
import hashlib
import re
import stat
from pathlib import Path

from deploy.kafka_acls import PROCESSES
from deploy.local.cluster import ClusterPorts, LocalCluster
from deploy.local.kafka_auth import ADMIN, BROKER, SCRAM_ITERATIONS, ClusterAuth
from deploy.local.processes import service_processes
from deploy.local.run_cluster import write_admin_env


def cluster(tmp_path: Path) -> LocalCluster:
    return LocalCluster(run_dir=tmp_path, ports=ClusterPorts.free())


def test_each_process_is_given_its_own_kafka_user_and_no_other_password(tmp_path: Path) -> None:
    local = cluster(tmp_path)
    assert local.kafka_auth is not None
    passwords = local.kafka_auth.passwords
    processes = service_processes(
        kafka_bootstrap_servers=local.kafka.bootstrap_servers,
        data_dir=tmp_path,
        log_dir=tmp_path,
        process_env=local.process_kafka_env(),
    )
    assert sorted(p.name for p in processes) == sorted(PROCESSES)
    for process in processes:
        assert process.env["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert process.env["KAFKA_SASL_USERNAME"] == process.name
        assert process.env["KAFKA_SASL_PASSWORD"] == passwords[process.name]
        others = {user: pw for user, pw in passwords.items() if user != process.name}
        assert not set(others.values()) & set(process.env.values()), process.name


def test_every_run_makes_new_passwords(tmp_path: Path) -> None:
    first, second = cluster(tmp_path / "1").kafka_auth, cluster(tmp_path / "2").kafka_auth
    assert first is not None and second is not None
    assert set(first.users) == {*PROCESSES, ADMIN, BROKER}
    assert not set(first.passwords.values()) & set(second.passwords.values())


def test_the_admin_s_settings_are_written_for_its_owner_alone(tmp_path: Path) -> None:
    local = cluster(tmp_path)
    assert local.kafka_auth is not None
    path = write_admin_env(local)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    written = dict(line.split("=", 1) for line in path.read_text().splitlines())
    assert written == {
        "KAFKA_BOOTSTRAP_SERVERS": local.kafka.bootstrap_servers,
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": ADMIN,
        "KAFKA_SASL_PASSWORD": local.kafka_auth.passwords[ADMIN],
    }


def test_the_storage_tool_gets_salted_credentials_not_passwords() -> None:
    auth = ClusterAuth.generate(PROCESSES)
    arguments = " ".join(auth.scram_arguments())
    assert not any(password in arguments for password in auth.passwords.values())
    found = dict(
        re.findall(r'name=([a-z]+),iterations=\d+,salt="[^"]+",saltedpassword="([^"]+)"', arguments)
    )
    assert set(found) == set(auth.users)
    # RFC 5802's SaltedPassword, which the broker checks a client's proof against.
    expected = hashlib.pbkdf2_hmac(
        "sha512", auth.passwords["billing"].encode(), auth.salts["billing"], SCRAM_ITERATIONS
    )
    assert base64.b64decode(found["billing"]) == expected


def test_the_brokers_want_sasl_everywhere_and_deny_what_no_acl_allows(tmp_path: Path) -> None:
    local = cluster(tmp_path)
    assert local.kafka_auth is not None
    settings = dict(
        line.split("=", 1) for line in local.kafka.node(1)._server_properties().splitlines()
    )
    assert settings["listener.security.protocol.map"] == (
        "CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
    )
    assert settings["listeners"].startswith("CLIENT://127.0.0.1:")
    assert settings["allow.everyone.if.no.acl.found"] == "false"
    assert settings["authorizer.class.name"].endswith("StandardAuthorizer")
    assert settings["super.users"] == f"User:{ADMIN};User:{BROKER}"
    text = "\n".join(settings.values())
    # The brokers know their own password; no process's, and not the admin's.
    for user in (*PROCESSES, ADMIN):
        assert local.kafka_auth.passwords[user] not in text


def test_without_secure_kafka_the_cluster_is_plaintext_as_make_run(tmp_path: Path) -> None:
    local = LocalCluster(run_dir=tmp_path, ports=ClusterPorts.free(), secure_kafka=False)
    assert local.kafka_auth is None and local.kafka.acls == frozenset()
    assert local.process_kafka_env() == {}
    assert local.kafka_client_options == {}
    assert "PLAINTEXT:PLAINTEXT" in local.kafka.node(1)._server_properties()
