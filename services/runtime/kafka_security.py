"""How a process authenticates to Kafka: plaintext on one host (`make run`), SASL/SCRAM (over TLS
where the cluster has it) on a cluster, where each service has its own user and ACLs for exactly
its topics and consumer group (deploy/kafka_acls.py; deploy/k8s/kafka/kafka-users.yaml, and
`make cluster` runs with them). Every producer, consumer and admin
client of the runtime and the gateway takes its options from here."""

import ssl
from typing import Any, Literal

from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import BaseModel, SecretStr, model_validator

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


class KafkaSecurity(BaseModel):
    """KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD."""

    protocol: Protocol = "PLAINTEXT"
    sasl_mechanism: Mechanism = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> "KafkaSecurity":
        if self.uses_sasl and not (self.sasl_username and self.sasl_password):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.protocol} needs KAFKA_SASL_USERNAME and "
                "KAFKA_SASL_PASSWORD"
            )
        return self

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's producer, consumer and admin client."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_tls:
            # The system's trust store; a cluster CA is added to it in the image or mounted.
            options["ssl_context"] = ssl.create_default_context()
        if self.uses_sasl:
            assert self.sasl_password is not None
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password.get_secret_value()
        return options

    def faststream(self) -> BaseSecurity | None:
        """The same settings for FastStream's KafkaBroker (its consumers)."""
        context = ssl.create_default_context() if self.uses_tls else None
        if not self.uses_sasl:
            return BaseSecurity(ssl_context=context, use_ssl=True) if context else None
        assert self.sasl_username is not None and self.sasl_password is not None
        kinds = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256}
        kind = kinds.get(self.sasl_mechanism, SASLPlaintext)
        return kind(
            self.sasl_username,
            self.sasl_password.get_secret_value(),
            ssl_context=context,
            use_ssl=self.uses_tls,
        )
