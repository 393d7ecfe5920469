"""SASL/SCRAM and ACLs for the local cluster's brokers: one SCRAM-SHA-512 user per process with a
password generated per run, the brokers' own user, an admin; the StandardAuthorizer denying what
no ACL allows; the ACLs of deploy/kafka_acls.py created through the admin user.

The SCRAM credentials go into the cluster's metadata when each node's storage is formatted
(`kafka-storage format --add-scram`), salted and hashed here, so no password is on a command
line; a process is given its own password in its environment (`client_env`), nothing else.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest_v1, DescribeAclsRequest
from aiokafka.protocol.api import Request

from deploy.kafka_acls import Acl, Operation, Resource
from services.runtime.kafka_security import KafkaSecurity

MECHANISM: Final = "SCRAM-SHA-512"
ADMIN: Final = "admin"
# The brokers' own user: between brokers (SCRAM, on the client listener) and to the
# controllers (PLAIN, on the controller listener, whose users are in its JAAS settings since
# the SCRAM ones live in the metadata the controllers serve).
BROKER: Final = "broker"
SUPER_USERS: Final = (ADMIN, BROKER)
# Kafka's minimum for SCRAM-SHA-512.
SCRAM_ITERATIONS: Final = 4096

# The Kafka protocol's codes (org.apache.kafka.common.acl / resource).
_RESOURCE_TYPES: Final[dict[Resource, int]] = {"topic": 2, "group": 3}
_OPERATIONS: Final[dict[Operation, int]] = {"Read": 3, "Write": 4, "Create": 5, "Describe": 8}
_ANY: Final = 1
_LITERAL: Final = 3
_ALLOW: Final = 3


def _salted_password(password: str, salt: bytes) -> bytes:
    """SCRAM's SaltedPassword (RFC 5802): PBKDF2 with HMAC-SHA-512."""
    return hashlib.pbkdf2_hmac("sha512", password.encode(), salt, SCRAM_ITERATIONS)


@dataclass(frozen=True)
class ClusterAuth:
    """The users of one cluster run and their passwords; `generate` makes fresh ones."""

    passwords: Mapping[str, str]
    # One salt per user, the same for every node formatted with these credentials.
    salts: Mapping[str, bytes] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "salts", {user: os.urandom(24) for user in self.passwords})

    @classmethod
    def generate(cls, users: Iterable[str]) -> ClusterAuth:
        """Fresh passwords for `users`, the admin and the brokers' own user."""
        return cls({name: secrets.token_urlsafe(24) for name in sorted({*users, *SUPER_USERS})})

    @property
    def users(self) -> tuple[str, ...]:
        return tuple(sorted(self.passwords))

    def scram_arguments(self) -> list[str]:
        """`kafka-storage format` arguments adding every user's SCRAM credential."""
        arguments = []
        for user in self.users:
            salt = self.salts[user]
            salted = _salted_password(self.passwords[user], salt)
            arguments += [
                "--add-scram",
                f"{MECHANISM}=[name={user},iterations={SCRAM_ITERATIONS},"
                f'salt="{base64.b64encode(salt).decode()}",'
                f'saltedpassword="{base64.b64encode(salted).decode()}"]',
            ]
        return arguments

    def security(self, user: str) -> KafkaSecurity:
        """The client settings of `user` (SASL_PLAINTEXT: the cluster listens on loopback)."""
        return KafkaSecurity.model_validate(
            {
                "protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": MECHANISM,
                "sasl_username": user,
                "sasl_password": self.passwords[user],
            }
        )

    def client_env(self, user: str) -> dict[str, str]:
        """The environment that makes a service, the gateway or a tool connect as `user`."""
        return {
            "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "KAFKA_SASL_MECHANISM": MECHANISM,
            "KAFKA_SASL_USERNAME": user,
            "KAFKA_SASL_PASSWORD": self.passwords[user],
        }

    def server_properties(self) -> dict[str, str]:
        """The brokers' SASL and authorizer settings, for the listeners CLIENT and CONTROLLER."""
        password = self.passwords[BROKER]
        scram_login = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{BROKER}" password="{password}";'
        )
        plain_login = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{BROKER}" password="{password}" user_{BROKER}="{password}";'
        )
        return {
            "listener.security.protocol.map": "CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
            "inter.broker.listener.name": "CLIENT",
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.client.sasl.enabled.mechanisms": MECHANISM,
            "listener.name.client.scram-sha-512.sasl.jaas.config": scram_login,
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config": plain_login,
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": ";".join(f"User:{user}" for user in SUPER_USERS),
            "allow.everyone.if.no.acl.found": "false",
        }


class _CreateAcls(Request[CreateAclsRequest_v1]):  # type: ignore[misc]  # untyped base
    """CreateAcls with many creations in one request (aiokafka's own sends one)."""

    API_KEY = 30

    def __init__(self, acls: Iterable[Acl]) -> None:
        self.acls = sorted(acls)

    def build(self, request_struct_class: type[CreateAclsRequest_v1]) -> CreateAclsRequest_v1:
        return request_struct_class(
            [
                (
                    _RESOURCE_TYPES[acl.resource],
                    acl.name,
                    _LITERAL,
                    f"User:{acl.principal}",
                    "*",
                    _OPERATIONS[acl.operation],
                    _ALLOW,
                )
                for acl in self.acls
            ]
        )


async def create_acls(
    bootstrap_servers: str,
    security: KafkaSecurity,
    acls: Iterable[Acl],
    *,
    timeout: float = 60.0,
) -> None:
    """Create `acls` (allow, any host) with the admin user's `security`, and return once every
    broker applies them: each learns of them from the metadata log a moment later, and a
    service starting in between would be refused what it is allowed. Creating an ACL that
    exists already changes nothing, so this may run again on a cluster that has them."""
    request = _CreateAcls(acls)
    wanted = frozenset(request.acls)
    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers, **security.client_options())
    try:
        await client.bootstrap()
        response = await client.send(client.get_random_node(), request)
        refused = [
            f"{acl}: {for_code(code).__name__} {message or ''}".strip()
            for acl, (code, message) in zip(request.acls, response.creation_responses, strict=True)
            if code != 0
        ]
        if refused:
            raise RuntimeError("the brokers refused ACLs: " + "; ".join(refused))
        async with asyncio.timeout(timeout):
            for broker in client.cluster.brokers():
                while True:
                    if wanted <= await _acls_of(client, broker.nodeId):
                        break
                    await asyncio.sleep(0.1)
    finally:
        await client.close()


async def describe_acls(bootstrap_servers: str, security: KafkaSecurity) -> frozenset[Acl]:
    """Every ACL the cluster holds (with the admin user's `security`), as `Acl`s; an ACL of a
    kind `Acl` cannot say (a deny, a prefix, a host, another resource) is an error."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers, **security.client_options())
    try:
        await client.bootstrap()
        return await _acls_of(client, client.get_random_node())
    finally:
        await client.close()


async def _acls_of(client: AIOKafkaClient, node_id: int) -> frozenset[Acl]:
    """The ACLs broker `node_id` holds: each answers from the metadata it has applied."""
    request = DescribeAclsRequest(_ANY, None, _ANY, None, None, _ANY, _ANY)
    response = await client.send(node_id, request)
    if response.error_code != 0:
        raise RuntimeError(f"DescribeAcls: {for_code(response.error_code).__name__}")
    resources = {code: name for name, code in _RESOURCE_TYPES.items()}
    operations = {code: name for name, code in _OPERATIONS.items()}
    found = set()
    for resource_type, name, pattern, acls in response.resources:
        for principal, host, operation, permission in acls:
            if (
                resource_type not in resources
                or operation not in operations
                or (pattern, host, permission) != (_LITERAL, "*", _ALLOW)
                or not principal.startswith("User:")
            ):
                raise RuntimeError(
                    f"an ACL this cluster does not make: {resource_type} {name} {pattern} "
                    f"{principal} {host} {operation} {permission}"
                )
            found.add(
                Acl(
                    principal.removeprefix("User:"),
                    resources[resource_type],
                    name,
                    operations[operation],
                )
            )
    return frozenset(found)
