"""Kafka connections: who a client is (SASL/SCRAM principal) and the producer every service uses
for its outbox relay and dead letters."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from aiokafka import AIOKafkaProducer
from faststream.security import BaseSecurity, SASLScram256, SASLScram512
from pydantic import SecretStr

from services.runtime.config import ServiceSettings

SecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT"]
SaslMechanism = Literal["SCRAM-SHA-256", "SCRAM-SHA-512"]


@dataclass(frozen=True)
class KafkaAccess:
    """Where a client connects and as whom. Every client (service, CLI, tool, test) connects as
    its own principal, so the broker's ACLs decide what it may read and write (docs/security.md)."""

    bootstrap_servers: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-256"
    username: str | None = None
    password: SecretStr | None = None

    @classmethod
    def of(cls, settings: ServiceSettings) -> KafkaAccess:
        return cls(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            security_protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            username=settings.kafka_username,
            password=settings.kafka_password,
        )

    @classmethod
    def from_env(cls, bootstrap_servers: str | None = None) -> KafkaAccess:
        """For command-line tools: KAFKA_BOOTSTRAP_SERVERS, KAFKA_USERNAME, KAFKA_PASSWORD (a
        username means SASL_PLAINTEXT unless KAFKA_SECURITY_PROTOCOL says otherwise)."""
        username = os.environ.get("KAFKA_USERNAME")
        protocol = os.environ.get("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT" if username else "PLAINTEXT")
        if protocol not in ("PLAINTEXT", "SASL_PLAINTEXT"):
            raise ValueError(f"unsupported KAFKA_SECURITY_PROTOCOL {protocol!r}")
        mechanism = os.environ.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
        if mechanism not in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
            raise ValueError(f"unsupported KAFKA_SASL_MECHANISM {mechanism!r}")
        password = os.environ.get("KAFKA_PASSWORD")
        servers = bootstrap_servers or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
        return cls(
            bootstrap_servers=servers,
            security_protocol=protocol,  # type: ignore[arg-type]
            sasl_mechanism=mechanism,  # type: ignore[arg-type]
            username=username,
            password=SecretStr(password) if password is not None else None,
        )

    @property
    def sasl(self) -> bool:
        return self.security_protocol == "SASL_PLAINTEXT"

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments of every aiokafka client (producer, consumer, admin)."""
        options: dict[str, Any] = {"bootstrap_servers": self.bootstrap_servers}
        if self.sasl:
            if self.username is None or self.password is None:
                raise ValueError("SASL_PLAINTEXT needs a Kafka username and password")
            options |= {
                "security_protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password.get_secret_value(),
            }
        return options

    def faststream_security(self) -> BaseSecurity | None:
        """The same credentials for a FastStream broker (no TLS: SASL_PLAINTEXT)."""
        if not self.sasl:
            return None
        options = self.client_options()
        scram = SASLScram256 if self.sasl_mechanism == "SCRAM-SHA-256" else SASLScram512
        return scram(options["sasl_plain_username"], options["sasl_plain_password"], use_ssl=False)


def create_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    """An idempotent producer (acks=all): broker-side retries never duplicate or reorder a
    partition's records (KIP-98), so the relay's order per key survives transient errors.
    Since Kafka 3.0 (KIP-679) WRITE on the topic is enough for an idempotent producer; no
    cluster-wide IdempotentWrite ACL is needed."""
    return AIOKafkaProducer(
        **KafkaAccess.of(settings).client_options(),
        client_id=f"credstream-{settings.service_name}-{settings.instance_id}",
        acks="all",
        enable_idempotence=True,
        linger_ms=settings.producer_linger_ms,
        max_batch_size=256 * 1024,
        request_timeout_ms=30_000,
    )
