"""Per-LMS configuration: who may send results, for which issuer, and how its identities map.

Foreign payloads never name credstream's issuer, and their learner identities are the LMS's own
(an e-mail, an account on the LMS, an LTI `sub`). Each LMS is therefore configured once
(deploy/config/lms.json, or `ASSESSMENT_LMS_CONFIG` as JSON): its bearer token for HTTP ingest,
the CloudEvents `source` its Kafka records carry, the issuer it reports for, and the mappings.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from services.assessment.domain import IngestRejected as LmsRejected


class LmsProfile(BaseModel):
    """One LMS (one tenant's Moodle, Canvas, Open edX ...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lms_id: Annotated[str, Field(min_length=1, max_length=200)]
    token: SecretStr | None = Field(
        default=None, description="Bearer token of its HTTP ingest calls (or give `token_sha256`)."
    )
    token_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="The hex SHA-256 of the token instead of the token: the service then holds no "
        "LMS secret (docs/http-security.md).",
    )
    source: Annotated[str, Field(min_length=1, max_length=1024)] = Field(
        description="The CloudEvents `ce_source` of its Kafka records."
    )
    issuer_id: Annotated[str, Field(min_length=1, max_length=512)]
    identities: dict[str, str] = Field(
        default_factory=dict,
        description="LMS identity key (see `identity_key`) -> credstream learner reference.",
    )
    unmapped_identities: Literal["use_key", "reject"] = Field(
        default="use_key",
        description="`use_key`: an identity without an entry is its own learner reference; "
        "`reject`: such results are refused (reason `identity_unmapped`).",
    )
    activities: dict[str, str] = Field(
        default_factory=dict,
        description="LMS activity id (xAPI object.id, Caliper assignable, LTI line item) -> "
        "the activity id achievements require; ids without an entry are used as they are.",
    )

    @model_validator(mode="after")
    def _one_token(self) -> LmsProfile:
        if (self.token is None) == (self.token_sha256 is None):
            raise ValueError(f"LMS {self.lms_id}: give exactly one of token and token_sha256")
        return self

    @property
    def token_digest(self) -> str:
        if self.token_sha256 is not None:
            return self.token_sha256
        assert self.token is not None
        return hashlib.sha256(self.token.get_secret_value().encode()).hexdigest()

    def learner_id(self, key: str) -> str:
        """The learner reference of an LMS identity key, by this LMS's mapping policy."""
        mapped = self.identities.get(key)
        if mapped is not None:
            return mapped
        if self.unmapped_identities == "reject":
            raise LmsRejected("identity_unmapped", f"LMS {self.lms_id} has no learner mapped to {key!r}")
        if len(key) > 512:
            raise LmsRejected("identity_invalid", "the learner identity is longer than 512 characters")
        return key

    def activity_id(self, foreign_id: str) -> str:
        return self.activities.get(foreign_id, foreign_id)


class LmsDirectory(BaseModel):
    """Every configured LMS, found by bearer token (HTTP) or CloudEvents source (Kafka)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lms: list[LmsProfile] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unambiguous(self) -> LmsDirectory:
        # A token or source shared by two LMSs would attribute results to the wrong issuer.
        for what, values in (
            ("lms_id", [p.lms_id for p in self.lms]),
            ("token", [p.token_digest for p in self.lms]),
            ("source", [p.source for p in self.lms]),
        ):
            if len(set(values)) != len(values):
                raise ValueError(f"two LMSs share one {what}")
        if any(p.token is not None and len(p.token.get_secret_value()) < 16 for p in self.lms):
            raise ValueError("an LMS token must have at least 16 characters")
        return self

    def by_source(self, source: str) -> LmsProfile:
        for profile in self.lms:
            if profile.source == source:
                return profile
        raise LmsRejected("lms_unknown", f"no LMS is configured with CloudEvents source {source[:200]!r}")

    def by_token(self, token: str) -> LmsProfile | None:
        """The LMS whose token this is: digests compared, every entry in constant time."""
        presented = hashlib.sha256(token.encode()).hexdigest().encode()
        found = None
        for profile in self.lms:
            if hmac.compare_digest(presented, profile.token_digest.encode()):
                found = profile
        return found

    @classmethod
    def load(cls, *, path: Path | None, inline: str | None) -> LmsDirectory:
        """Inline JSON (the environment override) wins over the file; neither gives no LMS."""
        if inline:
            return cls.model_validate_json(inline)
        if path is not None:
            return cls.model_validate_json(path.read_bytes())
        return cls()
