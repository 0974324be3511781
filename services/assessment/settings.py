"""Settings of the assessment service (environment prefix `ASSESSMENT_`)."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from services.runtime.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ASSESSMENT_", extra="ignore", frozen=True)

    service_name: str = "assessment"
    database_url: SecretStr = SecretStr("postgresql://assessment:assessment@127.0.0.1:5432/credstream")
    database_schema: str = "assessment"
    http_port: int = 8081
    admin_token: SecretStr = SecretStr("dev-assessment-admin-token")
    event_source: str = "urn:credstream:service:assessment"
