"""Typed settings shared by every service; each service subclasses with its own env prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Settings every service has. Defaults suit the native local runner only.

    A subclass sets `env_prefix` (e.g. `ASSESSMENT_`), so `ASSESSMENT_DATABASE_URL` configures
    the assessment service and nothing else.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str
    instance_id: str = Field(default="local-1", description="Distinguishes instances in logs.")
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT"] = Field(
        default="PLAINTEXT",
        description="SASL_PLAINTEXT on a secured broker (the local runner and compose run one).",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-256"
    kafka_username: str | None = Field(
        default=None, description="The service's own Kafka principal; its ACLs are in kafka-security.json."
    )
    kafka_password: SecretStr | None = None
    database_url: SecretStr
    database_schema: str
    db_pool_min_size: int = 2
    db_pool_max_size: int = 10
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    http_principals_file: Path | None = Field(
        default=None,
        description="JSON file of the HTTP principals (operator, issuer, agency, service) with the "
        "SHA-256 of their tokens (deploy/config/http-principals.json; the local runner writes one "
        "with fresh tokens into the stack's var directory). Without one, every protected call is refused.",
    )
    http_principals: str | None = Field(
        default=None, description="The same JSON inline; overrides `http_principals_file`."
    )
    http_max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body any endpoint reads; a larger one is a 413 before the route "
        "sees it (public endpoints included).",
    )
    public_rate_per_s: float = Field(
        default=100.0,
        description="Requests a second per client address on the public endpoints (token bucket); "
        "0 turns the limit off.",
    )
    public_burst: int = Field(default=200, ge=1, description="Requests a client may save up (bucket size).")
    otel_exporter: Literal["none", "console", "otlp"] = "none"
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    consumer_group: str | None = Field(
        default=None, description="Kafka consumer group; defaults to the service name."
    )
    consumer_max_poll_records: int = Field(
        default=200, description="Most records one poll hands the pipeline, run in one transaction."
    )
    consumer_batch_timeout_ms: int = Field(
        default=20, description="How long one poll waits for records when none are buffered."
    )
    consumer_fetch_min_bytes: int = Field(
        default=1,
        description="The broker answers a fetch once this much is there, or after "
        "CONSUMER_FETCH_MAX_WAIT_MS. 1: at once. Batches still form under load (what arrived while "
        "the previous batch ran); a larger value with a short wait makes an idle consumer poll.",
    )
    consumer_fetch_max_wait_ms: int = Field(
        default=500,
        description="The most a fetch waits for CONSUMER_FETCH_MIN_BYTES; with 1 byte, how long an "
        "idle consumer's fetch stays open (a long poll, not added latency).",
    )
    producer_linger_ms: int = Field(
        default=0,
        description="How long the producer holds a record to batch it with the next. The relay "
        "hands it a whole batch at once, and records queue behind an in-flight request anyway.",
    )
    retry_attempts: int = Field(
        default=3,
        description="Attempts for an unexpected error before the record is dead-lettered.",
    )
    retry_backoff_s: float = Field(
        default=0.1,
        description="Pause after the first failed attempt; doubled after each further one.",
    )
    retry_backoff_max_s: float = Field(default=5.0, description="Longest pause between two attempts.")
    transient_retry_window_s: float = Field(
        default=120.0,
        description="How long a transient fault (database or broker down) is retried in place "
        "before the record is handed back to Kafka (seek) to be fetched again; never dead-lettered.",
    )
    relay_batch_size: int = 500
    relay_idle_poll_s: float = Field(
        default=1.0, description="Relay poll when no NOTIFY arrives (NOTIFY is the fast path)."
    )
    outbox_retention_s: float = 24 * 3600.0
    inbox_retention_s: float = Field(
        default=30 * 24 * 3600.0,
        gt=0,
        description="How long an inbox row (the memory that a record was processed) is kept. It "
        "must outlive every redelivery of the record: longer than the topics' retention.",
    )
    fault_injection: str | None = Field(
        default=None,
        description="Test-only crash points (e.g. `relay.before_publish`): the process kills "
        "itself with SIGKILL there. Used by the kill tests; never set in production.",
    )
