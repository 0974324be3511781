"""Settings of the revocation service (environment prefix `REVOCATION_`)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.runtime.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REVOCATION_", extra="ignore", frozen=True)

    service_name: str = "revocation"
    database_url: SecretStr = SecretStr("postgresql://revocation:revocation@127.0.0.1:5432/credstream")
    database_schema: str = "revocation"
    http_port: int = 8084
    event_source: str = "urn:credstream:service:revocation"
    public_base_url: str = Field(
        default="http://127.0.0.1:8084",
        description="Where this service is reachable from outside; status list URLs derive from it.",
    )
    list_length: int = Field(default=131_072, ge=131_072, description="Entries per status list (bits).")
    list_ttl_s: int = Field(
        default=60,
        ge=0,
        description="The lists' `ttl` (and HTTP Cache-Control max-age): how long verifiers may cache a list, "
        "so the longest a change can take to be seen.",
    )
    publish_interval_s: float = Field(
        default=0.5,
        description="Changes are coalesced: each dirty list is re-signed at most once per interval.",
    )
    issuance_url: str = Field(
        default="http://127.0.0.1:8082",
        description="The issuance service's VC-API, where status list credentials are signed with the "
        "issuer's key.",
    )
    issuance_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of this service's `service` principal at the issuance service (it "
        "may only have status list credentials signed); the local runner generates it.",
    )
    bulk_limit: int = Field(default=100_000, description="Most status changes accepted in one HTTP request.")
    http_max_body_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=1024,
        description="Largest request body: a bulk request of `bulk_limit` changes is about 15 MB.",
    )
