"""Settings of the assessment service (environment prefix `ASSESSMENT_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.assessment.lms import LmsDirectory
from services.runtime.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ASSESSMENT_", extra="ignore", frozen=True)

    service_name: str = "assessment"
    database_url: SecretStr = SecretStr("postgresql://assessment:assessment@127.0.0.1:5432/credstream")
    database_schema: str = "assessment"
    http_port: int = 8081
    event_source: str = "urn:credstream:service:assessment"
    lms_config_file: Path | None = Field(
        default=None,
        description="JSON file of the LMSs allowed to send results (see deploy/config/lms.json).",
    )
    lms_config: str | None = Field(
        default=None, description="The same JSON inline; overrides `lms_config_file`."
    )

    def lms_directory(self) -> LmsDirectory:
        return LmsDirectory.load(path=self.lms_config_file, inline=self.lms_config)
