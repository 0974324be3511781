"""Settings of the issuance service (environment prefix `ISSUANCE_`)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from services.issuance.keyring import Keyring
from services.runtime.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ISSUANCE_", extra="ignore", frozen=True)

    service_name: str = "issuance"
    database_url: SecretStr = SecretStr("postgresql://issuance:issuance@127.0.0.1:5432/credstream")
    database_schema: str = "issuance"
    http_port: int = 8082
    event_source: str = "urn:credstream:service:issuance"
    public_base_url: str = Field(
        default="http://127.0.0.1:8082",
        description="Where this service is reachable from outside; did:web identifiers, achievement "
        "and credential URLs are derived from it (did:web:<host>%3A<port>:issuers:<slug>).",
    )
    key_encryption_key: SecretStr = Field(
        default=SecretStr("ZGV2LW9ubHkta2V5LWVuY3J5cHRpb24ta2V5LTMyYnk"),
        description="base64url of 32 random bytes; wraps issuers' private keys (AES-256-GCM). The "
        "default is for local development only.",
    )
    status_list_allowed_base_urls: list[str] = Field(
        default_factory=list,
        description="JSON list of the platform's own status list base URLs (e.g. "
        '["https://status.example/status-lists/"]): the verifier fetches them whatever address they '
        "name; every other status list URL must resolve to public addresses only (SSRF guard).",
    )
    key_encryption_key_id: str = Field(
        default="dev-kek-1",
        min_length=1,
        max_length=64,
        description="The id of `key_encryption_key`, stored with every key sealed under it, so the KEK "
        "can be rotated (docs/http-security.md).",
    )
    previous_key_encryption_keys: SecretStr | None = Field(
        default=None,
        description='JSON {"<kek id>": "<base64url KEK>"} of retired KEKs that still open stored keys '
        "until `python -m services.issuance.rekey` has re-wrapped them under the active one.",
    )
    credential_status: bool = Field(
        default=True,
        description="Give every credential a revocation and a suspension BitstringStatusListEntry, with "
        "indexes reserved by the revocation service; awards wait (parked) while none are available.",
    )
    status_block_size: int = Field(
        default=4096,
        ge=1,
        le=65_536,
        description="Indexes asked for per block. A block lasts ~10 s at 400 credentials/s; smaller "
        "blocks run dry under bulk issuance and park awards until the next one arrives.",
    )
    status_low_water: int = Field(
        default=2048, ge=0, description="Ask for the next block when fewer free indexes than this remain."
    )

    def keyring(self) -> Keyring:
        previous = self.previous_key_encryption_keys
        return Keyring(
            self.key_encryption_key_id,
            self.key_encryption_key.get_secret_value(),
            json.loads(previous.get_secret_value()) if previous and previous.get_secret_value() else None,
        )

    @field_validator("status_list_allowed_base_urls", mode="before")
    @classmethod
    def _json_list(cls, value: Any) -> Any:
        """The environment's JSON text, also when given as a value (the tests' settings)."""
        return json.loads(value) if isinstance(value, str) else value
