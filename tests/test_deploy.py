"""deploy/: the Kubernetes manifests against the 1.31 schemas, and the compose file, the
manifests and the Dockerfile against the code: the environment they give each process must
come out of the settings code as intended, and every name they set must be one the code reads
(so renaming a variable in the code fails here). Static: no Docker engine, no cluster."""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from unittest.mock import patch

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic import BaseModel, ValidationError

from deploy.kafka_acls import process_acls
from gateway.settings import GatewaySettings
from services.activity.config import ActivitySettings
from services.billing.config import BillingSettings
from services.customers.config import CustomersSettings
from services.runtime.settings import ServiceSettings
from services.tickets.config import TicketsSettings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
SERVICES = ("customers", "billing", "tickets", "activity")
PROCESSES = (*SERVICES, "gateway")
MODULES = {**{name: f"services.{name}.app" for name in SERVICES}, "gateway": "gateway.app"}
KUBERNETES_VERSION = "1.31"
IMAGE_UID = 10001

SETTINGS: dict[str, type[ServiceSettings]] = {
    "customers": CustomersSettings,
    "billing": BillingSettings,
    "tickets": TicketsSettings,
    "activity": ActivitySettings,
}


def _strong_secret() -> str:
    return secrets.token_hex(32)


# --- what a process makes of an environment ----------------------------------------------


def service_settings(service: str, env: Mapping[str, str]) -> ServiceSettings:
    """The settings `service` loads when its environment is exactly `env`."""
    with patch.dict(os.environ, dict(env), clear=True):
        return SETTINGS[service]()


def gateway_settings(env: Mapping[str, str]) -> GatewaySettings:
    with patch.dict(os.environ, dict(env), clear=True):
        return GatewaySettings()


def settings_of(process: str, env: Mapping[str, str]) -> tuple[BaseModel, ...]:
    """Everything `process` reads from `env`."""
    if process == "gateway":
        return (gateway_settings(env),)
    return (service_settings(process, env),)


# Values from a fixed set: another member of the set.
_ALTERNATIVES = {
    "production": "staging",
    "INFO": "DEBUG",
    "reject": "evict_oldest",
    "SASL_PLAINTEXT": "SASL_SSL",
    "SCRAM-SHA-512": "SCRAM-SHA-256",
}


def _mutated(name: str, value: str) -> str:
    """A different value of the same kind, which a process reading `name` must notice."""
    if value in _ALTERNATIVES:
        return _ALTERNATIVES[value]
    if name in ("JWT_SECRET", "SERVICE_TOKEN_SECRET"):
        return _strong_secret()
    if value.isdigit():
        return str(int(value) + 1)
    if "://" in value:
        return value + "/other"
    return value + "-other"


def unread_names(process_env: Mapping[str, Mapping[str, str]]) -> set[str]:
    """Names set for a process that its settings ignore: changing the value changes nothing."""
    unread: set[str] = set()
    for process, env in process_env.items():
        baseline = settings_of(process, env)
        for name, value in env.items():
            if settings_of(process, {**env, name: _mutated(name, value)}) == baseline:
                unread.add(f"{process}: {name}")
    return unread


def test_a_renamed_variable_is_noticed() -> None:
    # The check the compose and Kubernetes tests rely on, on a name the code does not read.
    env = {"CUSTOMERS_HOST": "0.0.0.0", "CUSTOMERS_LISTEN_PORT": "8101"}
    assert unread_names({"customers": env}) == {"customers: CUSTOMERS_LISTEN_PORT"}


def test_a_service_s_own_settings_count_as_read() -> None:
    env = {"DEVICE_OFFLINE_AFTER": "120", "ACTIVITY_DEFAULT_DEVICE_POLICY": "reject"}
    assert unread_names({"activity": env}) == set()


def test_billing_s_own_settings_count_as_read() -> None:
    env = {"SEED_DEMO_CATALOG": "0", "BILLING_SCHEDULER_INTERVAL_SECONDS": "60"}
    assert unread_names({"billing": env}) == set()


def assert_module_runs(module: str) -> None:
    """`python -m module` would start something: it imports, and runs its main block."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    importlib.import_module(module)
    source = Path(spec.origin).read_text(encoding="utf-8")
    assert 'if __name__ == "__main__":' in source, f"{module} does nothing under python -m"


# --- Kubernetes --------------------------------------------------------------------------


@functools.cache
def _parsed(path: Path) -> tuple[dict[str, Any], ...]:
    return tuple(doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc)


def _k8s_documents(path: Path) -> list[dict[str, Any]]:
    """The documents of `path`, each call a fresh copy (tests may change them)."""
    return copy.deepcopy(list(_parsed(path)))


def _manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def _all_resources() -> list[dict[str, Any]]:
    applied = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    return [doc for name in applied["resources"] for doc in _k8s_documents(K8S / name)]


def _of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in _all_resources() if doc["kind"] == kind]


def _one(kind: str, name: str) -> dict[str, Any]:
    found = [doc for doc in _of_kind(kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


def _secret_template() -> dict[str, str]:
    documents = _k8s_documents(K8S / "secret.template.yaml")
    assert [doc["kind"] for doc in documents] == ["Secret"]
    data: dict[str, str] = documents[0]["stringData"]
    return data


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _pod_env(process: str, secret: Mapping[str, str]) -> dict[str, str]:
    """The environment of `process`'s container: its ConfigMaps, then its own entries."""
    container = _container(_one("Deployment", process))
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(_one("ConfigMap", source["configMapRef"]["name"])["data"])
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            assert ref["name"] == _secret_template_name()
            env[entry["name"]] = secret[ref["key"]]
    return env


def _secret_template_name() -> str:
    name: str = _k8s_documents(K8S / "secret.template.yaml")[0]["metadata"]["name"]
    return name


def _filled_secret() -> dict[str, str]:
    """The template with the values an operator would put in."""
    return {
        **_secret_template(),
        "JWT_SECRET": _strong_secret(),
        "SERVICE_TOKEN_SECRET": _strong_secret(),
        "ADMIN_PASSWORD": "a-long-pw",
    }


@pytest.mark.parametrize("path", _manifest_files(), ids=lambda p: p.name)
def test_manifest_is_valid_kubernetes(path: Path) -> None:
    documents = _k8s_documents(path)
    assert documents
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_strict_validation_rejects_a_misspelt_field() -> None:
    deployment = _one("Deployment", "customers")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_kustomization_applies_every_manifest_but_the_secret_template() -> None:
    applied = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    expected = {p.name for p in _manifest_files()} - {"secret.template.yaml"}
    assert sorted(applied["resources"]) == sorted(expected)
    assert applied["namespace"] == "tvcm"
    assert {doc["kind"] for doc in _all_resources()} >= {"Namespace", "ConfigMap", "Deployment"}


@pytest.mark.parametrize("process", PROCESSES)
def test_deployment_is_replicated_probed_limited_and_unprivileged(process: str) -> None:
    deployment = _one("Deployment", process)
    labels = deployment["spec"]["selector"]["matchLabels"]
    pod = deployment["spec"]["template"]["spec"]
    container = _container(deployment)

    # The autoscaler owns the replica count, at least two of them, each in one consumer group.
    assert "replicas" not in deployment["spec"]
    hpa = _one("HorizontalPodAutoscaler", process)
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": process,
    }
    assert hpa["spec"]["minReplicas"] >= 2
    assert _one("PodDisruptionBudget", process)["spec"]["selector"]["matchLabels"] == labels

    assert container["command"] == ["python", "-m", MODULES[process]]
    assert_module_runs(MODULES[process])
    port = container["ports"][0]
    assert port["name"] == "http"
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert {"cpu", "memory"} <= container["resources"]["limits"].keys()

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == IMAGE_UID
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    # Service links would put e.g. GATEWAY_PORT=tcp://... into every pod.
    assert pod["enableServiceLinks"] is False

    service = _one("Service", process)
    assert service["spec"]["selector"] == labels
    assert service["spec"]["ports"][0]["targetPort"] == "http"


@pytest.mark.parametrize("service", SERVICES)
def test_k8s_service_settings_come_out_as_intended(service: str) -> None:
    secret = _filled_secret()
    settings = service_settings(service, _pod_env(service, secret))
    container_port = _container(_one("Deployment", service))["ports"][0]["containerPort"]
    config = _one("ConfigMap", "tvcm-config")["data"]
    assert settings.host == "0.0.0.0"
    assert settings.port == container_port
    assert settings.database_url == secret[f"{service.upper()}_DATABASE_URL"]
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.kafka_bootstrap_servers == config["KAFKA_BOOTSTRAP_SERVERS"]
    assert settings.kafka_replication_factor == 3


def _service_url(service: dict[str, Any]) -> str:
    return f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"


def test_k8s_gateway_settings_come_out_as_intended() -> None:
    secret = _filled_secret()
    settings = gateway_settings(_pod_env("gateway", secret))
    assert settings.is_production
    assert settings.host == "0.0.0.0"
    assert settings.port == _container(_one("Deployment", "gateway"))["ports"][0]["containerPort"]
    assert settings.database_url == secret["GATEWAY_DATABASE_URL"]
    assert settings.jwt_key == secret["JWT_SECRET"]
    assert settings.service_urls == {name: _service_url(_one("Service", name)) for name in SERVICES}


def test_k8s_sets_only_names_the_code_reads() -> None:
    secret = _filled_secret()
    envs = {process: _pod_env(process, secret) for process in PROCESSES}
    # Every pod gets the whole shared ConfigMap (BILLING_PORT reaches customers too), so a name
    # must be read by at least one of the processes it reaches.
    unread = unread_names(envs)
    nobody_reads = {
        name
        for name in {n for env in envs.values() for n in env}
        if all(f"{p}: {name}" in unread for p in envs if name in envs[p])
    }
    assert nobody_reads == set()


def test_secret_template_placeholders_are_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        settings_of("gateway", _pod_env("gateway", _secret_template()))


@pytest.mark.parametrize("service", SERVICES)
def test_secret_template_service_token_placeholder_is_refused_in_production(service: str) -> None:
    secret = {
        **_filled_secret(),
        "SERVICE_TOKEN_SECRET": _secret_template()["SERVICE_TOKEN_SECRET"],
    }
    with pytest.raises(ValueError, match="SERVICE_TOKEN_SECRET"):
        settings_of(service, _pod_env(service, secret))
    with pytest.raises(ValidationError, match="SERVICE_TOKEN_SECRET"):
        settings_of("gateway", _pod_env("gateway", secret))


def test_k8s_gateway_and_services_share_the_service_token_secret() -> None:
    secret = _filled_secret()
    gateway = gateway_settings(_pod_env("gateway", secret))
    for service in SERVICES:
        settings = service_settings(service, _pod_env(service, secret))
        assert settings.service_token_key == gateway.service_token_key
    assert gateway.service_token_key != gateway.jwt_key


@pytest.mark.parametrize("process", PROCESSES)
def test_k8s_every_kafka_client_authenticates_with_its_own_scram_user(process: str) -> None:
    secret = _filled_secret()
    env = _pod_env(process, secret)
    if process == "gateway":
        security = gateway_settings(env).kafka_security
    else:
        security = service_settings(process, env).kafka_security
    assert security.protocol == "SASL_PLAINTEXT"
    assert security.sasl_mechanism == "SCRAM-SHA-512"
    assert security.sasl_username == process
    assert security.sasl_password is not None
    assert security.sasl_password.get_secret_value() == secret[f"{process.upper()}_KAFKA_PASSWORD"]
    options = security.client_options()
    assert options["sasl_plain_username"] == process
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    # The same user reaches Strimzi with the same password Secret key.
    user = _kafka_user(process)
    password_ref = user["spec"]["authentication"]["password"]["valueFrom"]["secretKeyRef"]
    assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    assert password_ref == {"name": "tvcm-kafka-passwords", "key": process}


def _kafka_documents() -> list[dict[str, Any]]:
    applied = yaml.safe_load((K8S / "kafka" / "kustomization.yaml").read_text(encoding="utf-8"))
    return [doc for name in applied["resources"] for doc in _k8s_documents(K8S / "kafka" / name)]


def _kafka_user(name: str) -> dict[str, Any]:
    found = [
        d for d in _kafka_documents() if d["kind"] == "KafkaUser" and d["metadata"]["name"] == name
    ]
    assert len(found) == 1, name
    return found[0]


def _acl_grants(name: str) -> set[tuple[str, str, str]]:
    return {
        (acl["resource"]["type"], acl["resource"]["name"], operation)
        for acl in _kafka_user(name)["spec"]["authorization"]["acls"]
        for operation in acl["operations"]
        if acl["resource"].get("patternType", "literal") == "literal"
    }


def test_kafka_cluster_listener_wants_scram_and_authorizes_with_acls() -> None:
    [kafka] = [d for d in _kafka_documents() if d["kind"] == "Kafka"]
    listeners = kafka["spec"]["kafka"]["listeners"]
    assert [listener["authentication"]["type"] for listener in listeners] == ["scram-sha-512"]
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"
    bootstrap = _one("ConfigMap", "tvcm-config")["data"]["KAFKA_BOOTSTRAP_SERVERS"]
    assert (
        bootstrap == f"{kafka['metadata']['name']}-kafka-bootstrap.kafka.svc:{listeners[0]['port']}"
    )
    users = [d for d in _kafka_documents() if d["kind"] == "KafkaUser"]
    assert sorted(u["metadata"]["name"] for u in users) == sorted(PROCESSES)


@pytest.mark.parametrize("process", PROCESSES)
def test_kafka_user_acls_are_the_ones_derived_from_the_code(process: str) -> None:
    # deploy/kafka_acls.py derives them from what each process's code consumes and publishes
    # (tests/test_kafka_acls.py); the local cluster creates the same ones.
    expected = {(acl.resource, acl.name, acl.operation) for acl in process_acls(process)}
    assert _acl_grants(process) == expected


def test_network_policies_deny_by_default_and_let_only_the_gateway_and_prometheus_in() -> None:
    policies = {p["metadata"]["name"]: p["spec"] for p in _of_kind("NetworkPolicy")}
    default = policies["default-deny"]
    assert default["podSelector"] == {}
    assert set(default["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in default and "egress" not in default
    for service in SERVICES:
        labels = _one("Deployment", service)["spec"]["template"]["metadata"]["labels"]
        [policy] = [
            p
            for p in policies.values()
            if p["podSelector"].get("matchLabels", {}).items() <= labels.items()
            and p["podSelector"] != {}
        ]
        [rule] = policy["ingress"]
        assert rule["ports"] == [{"protocol": "TCP", "port": "http"}]
        sources = [
            (
                peer.get("namespaceSelector"),
                peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
            )
            for peer in rule["from"]
        ]
        gateway_labels = _one("Deployment", "gateway")["spec"]["template"]["metadata"]["labels"]
        assert (None, gateway_labels["app.kubernetes.io/name"]) in sources
        assert sorted(name for _, name in sources) == ["gateway", "prometheus"]
        # Prometheus from its own namespace only.
        assert all(ns is not None for ns, name in sources if name == "prometheus")


# --- compose -----------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error} on every string in `value`."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if env.get(name):
            return env[name]
        if op in (":-", "-"):
            return str(arg)
        if op in (":?", "?"):
            raise KeyError(f"{name}: {arg}")
        return ""

    return _VARIABLE.sub(substitute, value)


def _compose_text() -> str:
    return COMPOSE.read_text(encoding="utf-8")


def _env_example() -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in (DEPLOY / "env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            entries[name.strip()] = value.strip()
    return entries


def _filled_env_file() -> dict[str, str]:
    """deploy/.env as an operator fills it in from env.example."""
    return {
        name: ("admin" if name == "ADMIN_USERNAME" else _strong_secret()) for name in _env_example()
    }


def compose(env: Mapping[str, str]) -> dict[str, Any]:
    loaded: dict[str, Any] = interpolate(yaml.safe_load(_compose_text()), env)
    return loaded


def _compose_env(config: dict[str, Any], process: str) -> dict[str, str]:
    environment = config["services"][process]["environment"]
    assert isinstance(environment, dict), "environment as a mapping"
    return {name: str(value) for name, value in environment.items()}


def _healthcheck_url(config: dict[str, Any], process: str) -> str:
    test = " ".join(config["services"][process]["healthcheck"]["test"])
    found = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", test)
    assert found, test
    return f"{found[1]}{found[2]}"


COMPOSE_SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"


def _compose_schema_errors(config: dict[str, Any]) -> list[str]:
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(config)]


def test_compose_file_follows_the_compose_specification() -> None:
    assert _compose_schema_errors(compose(_filled_env_file())) == []


def test_compose_schema_catches_a_misspelt_key() -> None:
    config = compose(_filled_env_file())
    config["services"]["billing"]["deploy"]["replica"] = 2
    assert any("replica" in error for error in _compose_schema_errors(config))


def test_compose_needs_every_secret_the_env_example_documents() -> None:
    required = {m["name"] for m in _VARIABLE.finditer(_compose_text()) if m["op"] in (":?", "?")}
    assert required
    assert required <= _env_example().keys()
    with pytest.raises(KeyError, match="JWT_SECRET"):
        compose({k: v for k, v in _filled_env_file().items() if k != "JWT_SECRET"})


@pytest.mark.parametrize("service", SERVICES)
def test_compose_service_settings_come_out_as_intended(service: str) -> None:
    env_file = _filled_env_file()
    config = compose(env_file)
    settings = service_settings(service, _compose_env(config, service))
    assert settings.host == "0.0.0.0"
    assert _healthcheck_url(config, service) == f"{settings.port}/readyz"
    assert settings.database_url == (
        f"postgresql+asyncpg://{service}:{env_file[f'{service.upper()}_DB_PASSWORD']}"
        f"@postgres:5432/{service}"
    )
    assert settings.kafka_bootstrap_servers == "kafka:9092"
    assert settings.kafka_replication_factor == 1
    assert config["services"][service]["deploy"]["replicas"] == 2
    assert config["services"][service]["command"] == ["python", "-m", MODULES[service]]


def test_compose_gateway_settings_come_out_as_intended() -> None:
    env_file = _filled_env_file()
    config = compose(env_file)
    settings = gateway_settings(_compose_env(config, "gateway"))
    assert settings.is_production
    assert settings.host == "0.0.0.0"
    assert _healthcheck_url(config, "gateway") == f"{settings.port}/readyz"
    assert config["services"]["gateway"]["ports"] == [f"127.0.0.1:8000:{settings.port}"]
    assert settings.database_url == (
        f"postgresql+asyncpg://gateway:{env_file['GATEWAY_DB_PASSWORD']}@postgres:5432/gateway"
    )
    assert settings.jwt_key == env_file["JWT_SECRET"]
    assert settings.admin_password is not None
    assert settings.admin_password.get_secret_value() == env_file["ADMIN_PASSWORD"]
    # Each URL names the compose service and the port that service's settings listen on.
    assert settings.service_urls == {
        name: f"http://{name}:{service_settings(name, _compose_env(config, name)).port}"
        for name in SERVICES
    }


def test_compose_sets_only_names_the_code_reads() -> None:
    config = compose(_filled_env_file())
    assert unread_names({p: _compose_env(config, p) for p in PROCESSES}) == set()


def test_compose_postgres_gets_every_database_password() -> None:
    config = compose(_filled_env_file())
    init_script = (DEPLOY / "compose" / "postgres-init.sh").read_text(encoding="utf-8")
    assert "for name in customers billing tickets activity gateway;" in init_script
    postgres_env = config["services"]["postgres"]["environment"]
    assert {f"{p.upper()}_DB_PASSWORD" for p in PROCESSES} <= postgres_env.keys()
    mounted = config["services"]["postgres"]["volumes"]
    assert "./compose/postgres-init.sh:/docker-entrypoint-initdb.d/10-databases.sh:ro" in mounted


def test_compose_env_example_is_refused_by_the_gateway() -> None:
    config = compose(_env_example())
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        settings_of("gateway", _compose_env(config, "gateway"))


def test_compose_kafka_advertises_names_its_clients_resolve() -> None:
    kafka = compose(_filled_env_file())["services"]["kafka"]
    assert kafka["image"] == "apache/kafka:4.1.1"
    environment = kafka["environment"]
    assert environment["KAFKA_PROCESS_ROLES"] == "broker,controller"
    advertised = dict(
        entry.split("://") for entry in environment["KAFKA_ADVERTISED_LISTENERS"].split(",")
    )
    internal = environment["KAFKA_INTER_BROKER_LISTENER_NAME"]
    assert advertised[internal] == "kafka:9092"  # the containers' KAFKA_BOOTSTRAP_SERVERS
    listeners = environment["KAFKA_LISTENERS"]
    assert all(f"{name}://" in listeners for name in advertised)


# --- Dockerfile --------------------------------------------------------------------------


def _dockerfile_instructions() -> Iterator[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            yield keyword.upper(), rest.strip()


def _last(keyword: str) -> str:
    return [rest for key, rest in _dockerfile_instructions() if key == keyword][-1]


def test_dockerfile_runs_the_installed_package_as_a_non_root_user() -> None:
    instructions = list(_dockerfile_instructions())
    assert [rest.split()[0] for key, rest in instructions if key == "FROM"] == [
        "python:3.11-slim",
        "python:3.11-slim",
    ]
    assert _last("USER").split(":")[0] == str(IMAGE_UID)
    installs = [rest for key, rest in instructions if key == "RUN" and "pip install" in rest]
    assert installs and all("[dev]" not in rest and "-e" not in rest.split() for rest in installs)
    cmd = yaml.safe_load(_last("CMD"))  # JSON form, which YAML reads
    assert cmd[:2] == ["python", "-m"]
    assert_module_runs(cmd[2])


@pytest.mark.parametrize("module", sorted(MODULES.values()))
def test_every_process_module_runs(module: str) -> None:
    assert_module_runs(module)


def test_dockerignore_lets_in_what_the_image_copies() -> None:
    # .dockerignore starts from "*" (nothing) and lets paths in with "!path".
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert next(line for line in lines if not line.startswith("#")) == "*"
    let_in = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    sources = [
        rest.split()[0]
        for key, rest in _dockerfile_instructions()
        if key == "COPY" and not rest.startswith("--from")
    ]
    assert sources and {source.rstrip("/") for source in sources} <= let_in
