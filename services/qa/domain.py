"""Agencies, attestations and the rules an agency's submission must pass. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.runtime.errors import DomainError

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
ShortText = Annotated[str, Field(min_length=1, max_length=512)]
SubjectKind = Literal["issuer", "achievement"]
SUBJECT_KINDS: tuple[SubjectKind, ...] = ("issuer", "achievement")
Action = Literal["grant", "renew", "withdraw"]
Decision = Literal["positive", "positive_with_conditions", "negative"]

ISSUER_SUBJECT = "urn:credstream:issuer:"
ACHIEVEMENT_SUBJECT = "urn:credstream:achievement:"


class QaRejected(DomainError):
    """A submission breaks a rule; `reason` is the dead-letter reason code (docs/qa.md)."""


class Remit(BaseModel):
    """What an agency may attest: subject kinds, jurisdictions (ISO 3166-1 alpha-2) and EQF
    levels; None means no limit on that axis."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject_kinds: list[SubjectKind] = Field(default_factory=lambda: list(SUBJECT_KINDS))
    jurisdictions: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] | None = None
    eqf_levels: list[Annotated[int, Field(ge=1, le=8)]] | None = None


class Agency(BaseModel):
    """A QA agency as the operator registers it (`PUT /admin/agencies/{agency_id}`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agency_id: Slug
    did: Annotated[str, Field(pattern=r"^did:[a-z0-9]+:\S+$", max_length=512)]
    name: ShortText
    country_code: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    deqar_id: ShortText | None = None
    standards: Annotated[list[ShortText], Field(min_length=1, max_length=20)]
    public_keys: Annotated[list[Annotated[str, Field(pattern=r"^z6Mk[1-9A-HJ-NP-Za-km-z]+$")]],
                           Field(min_length=1, max_length=10)]  # fmt: skip
    remit: Remit = Remit()
    status: Literal["active", "suspended"] = "active"

    @model_validator(mode="after")
    def _did_key_is_its_key(self) -> Agency:
        if self.did.startswith("did:key:") and self.public_keys != [self.did.removeprefix("did:key:")]:
            raise ValueError("a did:key agency has exactly one key: the one its DID names")
        return self

    def verification_methods(self) -> list[str]:
        return [f"{self.did}#{key}" for key in self.public_keys]

    def did_document(self) -> dict[str, Any]:
        """The agency's keys as a controller document, built from the register only."""
        methods = self.verification_methods()
        return {
            "id": self.did,
            "verificationMethod": [
                {"id": vm, "type": "Multikey", "controller": self.did, "publicKeyMultibase": key}
                for vm, key in zip(methods, self.public_keys, strict=True)
            ],
            "assertionMethod": methods,
        }


@dataclass(frozen=True, slots=True)
class Scope:
    eqf_levels: list[int] | None = None
    fields: list[str] | None = None
    jurisdictions: list[str] | None = None

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in (("eqf_levels", self.eqf_levels), ("fields", self.fields),
                                  ("jurisdictions", self.jurisdictions)) if v is not None}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Claim:
    """What a signed EndorsementCredential states (before its proof is checked)."""

    endorsement_id: str
    issuer_did: str
    subject_kind: SubjectKind
    subject_id: str
    action: Action
    decision: Decision
    standard: str
    report_url: str | None
    attestation_ref: str | None
    scope: Scope
    valid_from: datetime
    valid_until: datetime | None


@dataclass(frozen=True, slots=True)
class Attestation:
    attestation_id: str
    agency_id: str
    subject_kind: SubjectKind
    subject_id: str
    decision: Decision
    scope: Scope
    standard: str
    report_url: str | None
    valid_from: datetime
    valid_until: datetime | None
    status: Literal["active", "withdrawn", "expired"]
    endorsement_id: str
    endorsement: dict[str, Any] = field(repr=False)
    withdrawn_at: datetime | None = None


def check_remit(agency: Agency, claim: Claim) -> None:
    """Refuse a claim outside what the agency is registered to attest."""
    remit = agency.remit
    if claim.standard not in agency.standards:
        raise QaRejected("out_of_remit", f"standard {claim.standard!r} is not one {agency.agency_id} applies")
    if claim.subject_kind not in remit.subject_kinds:
        raise QaRejected("out_of_remit", f"{agency.agency_id} may not attest {claim.subject_kind} subjects")
    for axis, allowed, claimed in (
        ("jurisdiction", remit.jurisdictions, claim.scope.jurisdictions),
        ("EQF level", remit.eqf_levels, claim.scope.eqf_levels),
    ):
        if allowed is None:
            continue
        if not claimed:
            raise QaRejected(
                "out_of_remit", f"the agency's remit is limited by {axis}: the scope must state it"
            )
        outside = sorted(set(map(str, claimed)) - set(map(str, allowed)))
        if outside:
            raise QaRejected(
                "out_of_remit", f"{axis} {', '.join(outside)} is outside {agency.agency_id}'s remit"
            )


def check_no_wider(current: Scope, renewed: Scope) -> None:
    """A renewal may keep or narrow the scope of what it renews, never widen it: on each axis the
    attestation limits, the renewal must state a limit inside it (an axis it leaves open stays
    open). Widening is a new grant, with the checks of a grant."""
    for axis, granted, claimed in (
        ("jurisdiction", current.jurisdictions, renewed.jurisdictions),
        ("EQF level", current.eqf_levels, renewed.eqf_levels),
        ("field", current.fields, renewed.fields),
    ):
        if granted is None:
            continue
        if not claimed:
            raise QaRejected(
                "scope_widened", f"the attestation is limited by {axis}: a renewal must state it"
            )
        outside = sorted(set(map(str, claimed)) - set(map(str, granted)))
        if outside:
            raise QaRejected(
                "scope_widened", f"{axis} {', '.join(outside)} is outside the attestation it renews"
            )


def check_validity(claim: Claim, now: datetime) -> None:
    if claim.valid_until is not None and claim.valid_until <= claim.valid_from:
        raise QaRejected("validity_inconsistent", "validUntil is not after validFrom")
    if claim.action != "withdraw" and claim.valid_until is not None and claim.valid_until <= now:
        raise QaRejected("validity_inconsistent", f"the attestation ended already ({claim.valid_until})")
