"""Settings of the QA service (environment prefix `QA_`)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.runtime.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore", frozen=True)

    service_name: str = "qa"
    database_url: SecretStr = SecretStr("postgresql://qa:qa@127.0.0.1:5432/credstream")
    database_schema: str = "qa"
    http_port: int = 8083
    event_source: str = "urn:credstream:service:qa"
    expiry_check_interval_s: float = Field(
        default=5.0,
        description="How often the service looks for attestations past their validUntil and "
        "emits qa.attestation.expired (expiry is detected by the service, not on request).",
    )
