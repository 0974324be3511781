"""How clients connect: a service's settings become SASL/SCRAM options for aiokafka and FastStream
alike; a tool's environment does the same; a SASL client without a password is refused early."""

from __future__ import annotations

import pytest
from faststream.kafka.security import parse_security
from pydantic import SecretStr

from services.assessment.settings import Settings
from services.runtime.kafka import KafkaAccess


def settings(**kafka: str) -> Settings:
    return Settings(database_url=SecretStr("postgresql://x@127.0.0.1/x"), **kafka)  # type: ignore[arg-type]


def test_a_service_connects_as_its_own_principal_with_aiokafka_and_faststream() -> None:
    access = KafkaAccess.of(
        settings(
            kafka_security_protocol="SASL_PLAINTEXT", kafka_username="svc-assessment", kafka_password="pw"
        )
    )
    options = access.client_options()
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert options["sasl_mechanism"] == "SCRAM-SHA-256"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("svc-assessment", "pw")
    parsed = parse_security(access.faststream_security())
    assert {k: parsed[k] for k in ("security_protocol", "sasl_mechanism", "sasl_plain_username")} == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "svc-assessment",
    }
    assert "pw" not in repr(settings(kafka_password="pw"))  # a SecretStr, never logged


def test_plaintext_stays_plaintext_and_sasl_without_a_password_is_refused() -> None:
    plain = KafkaAccess.of(settings())
    assert plain.client_options() == {"bootstrap_servers": "127.0.0.1:9092"}
    assert plain.faststream_security() is None
    with pytest.raises(ValueError, match="password"):
        KafkaAccess.of(
            settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_username="x")
        ).client_options()


def test_tools_read_their_principal_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("KAFKA_USERNAME", "qa-agency-demo-qa-agency")
    monkeypatch.setenv("KAFKA_PASSWORD", "pw")
    access = KafkaAccess.from_env()
    assert (access.bootstrap_servers, access.security_protocol, access.username) == (
        "kafka:9092",
        "SASL_PLAINTEXT",
        "qa-agency-demo-qa-agency",
    )
    monkeypatch.delenv("KAFKA_USERNAME")
    assert KafkaAccess.from_env("h:1").client_options() == {"bootstrap_servers": "h:1"}
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SSL")
    with pytest.raises(ValueError, match="KAFKA_SECURITY_PROTOCOL"):
        KafkaAccess.from_env()
