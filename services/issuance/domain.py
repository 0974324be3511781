"""Issuers, micro-credential specifications and their rules. No I/O here.

The specification carries every element of the EU Council Recommendation on micro-credentials
(2022/C 243/02, Annex I) that belongs to the achievement; the learner, the issue date and the
issuer's country come from the award and the issuer profile.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import quote, urlsplit

from pydantic import AnyUrl, BaseModel, ConfigDict, Field, model_validator

from services.runtime.errors import DomainError

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Text = Annotated[str, Field(min_length=1, max_length=4000)]
ShortText = Annotated[str, Field(min_length=1, max_length=512)]
Cryptosuite = Literal["eddsa-rdfc-2022", "eddsa-jcs-2022"]
QaPolicy = Literal["require", "allow_unassured"]
WithdrawalPolicy = Literal["none", "suspend"]

# Controlled values (documented in docs/issuance.md; ELM v3 is the reference vocabulary).
AssessmentType = Literal[
    "written-exam", "oral-exam", "practical-demonstration", "project", "portfolio",
    "online-test", "peer-assessment", "self-assessment", "continuous-assessment",
]  # fmt: skip
ParticipationForm = Literal["online", "onsite", "blended"]
Supervision = Literal[
    "unsupervised", "supervised-no-identity-check", "supervised-identity-check-onsite",
    "supervised-identity-check-online",
]  # fmt: skip


class IssuanceError(DomainError):
    """A rule of issuance refused the request; `reason` is a stable, machine-readable code."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IssuerProfile(_Model):
    """An education provider (tenant) as the admin API defines it."""

    issuer_id: Slug
    name: ShortText
    url: AnyUrl | None = None
    email: Annotated[str, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    country_code: Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
    region: ShortText | None = None
    cryptosuite: Cryptosuite = "eddsa-rdfc-2022"
    qa_policy: QaPolicy = Field(
        default="require",
        description="`require`: an award waits (parked) until a valid QA attestation covers it; "
        "`allow_unassured`: without one it is issued, marked as having no external QA.",
    )
    withdrawal_policy: WithdrawalPolicy = Field(
        default="none",
        description="When an attestation is withdrawn: `none`, or `suspend` the credentials that "
        "relied on it and were issued on or after the withdrawal's effective date.",
    )


class LearningOutcome(_Model):
    outcome: Text
    esco_skill: AnyUrl | None = Field(default=None, description="An ESCO skill IRI it aligns with.")


class AssessmentCriteria(_Model):
    """What the assessment service checks (sent to it on the achievement.defined stream)."""

    required_activity_ids: Annotated[list[ShortText], Field(min_length=1, max_length=200)]
    min_scaled_score: Annotated[float, Field(ge=-1.0, le=1.0)] | None = None
    require_success: bool = False


class QualityAssuranceRef(_Model):
    """The EU element "type of quality assurance". The QA service's attestations fill it."""

    qa_type: Literal["internal", "external"] = "internal"
    description: Text = "Internal quality assurance of the awarding body; no external attestation."
    agency_did: ShortText | None = None
    agency_name: ShortText | None = None
    standard: ShortText | None = None
    decision: ShortText | None = None
    attestation_id: ShortText | None = None
    report_url: AnyUrl | None = None


class MicroCredentialSpec(_Model):
    """An achievement: the specification of one micro-credential."""

    achievement_id: Slug
    issuer_id: Slug
    name: ShortText
    description: Text
    criteria_narrative: Text
    criteria: AssessmentCriteria
    learning_outcomes: Annotated[list[LearningOutcome], Field(min_length=1, max_length=100)]
    ects_credits: Annotated[float, Field(gt=0, le=60)] | None = None
    workload_hours: Annotated[float, Field(gt=0, le=2000)] | None = None
    eqf_level: Annotated[int, Field(ge=1, le=8)]
    assessment_type: AssessmentType
    participation_form: ParticipationForm
    supervision: Supervision
    prerequisites: Text | None = None
    stackability: Text | None = None
    further_information: AnyUrl | None = None
    language: Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")] = "en"
    valid_for_days: Annotated[int, Field(ge=1, le=36500)] | None = None
    quality_assurance: QualityAssuranceRef = QualityAssuranceRef()
    status: Literal["active", "retired"] = "active"

    @model_validator(mode="after")
    def _workload(self) -> MicroCredentialSpec:
        if self.ects_credits is None and self.workload_hours is None:
            raise ValueError("notional workload is mandatory: give ects_credits and/or workload_hours")
        return self


@dataclass(frozen=True, slots=True)
class Learner:
    learner_id: str
    email: str | None = None
    name: str | None = None
    did: str | None = None


@dataclass(frozen=True, slots=True)
class Award:
    """One earned achievement to turn into a credential."""

    earned_id: str
    issuer_id: str
    achievement_id: str
    award: int
    learner: Learner
    earned_at: datetime


def did_web(public_base_url: str, issuer_id: str) -> str:
    """did:web for an issuer served under `<base>/issuers/<id>/did.json` (did:web method spec:
    the port's colon is percent-encoded, path segments become `:`-separated)."""
    parts = urlsplit(public_base_url)
    host = quote(parts.netloc, safe="")
    path = [segment for segment in parts.path.split("/") if segment]
    return ":".join(["did:web", host, *path, "issuers", issuer_id])


def identity_hash(identity: str, salt: str) -> str:
    """Open Badges 3.0 IdentityObject.identityHash: `sha256$` + hex(SHA-256(identity + salt))."""
    return "sha256$" + hashlib.sha256((identity + salt).encode("utf-8")).hexdigest()
