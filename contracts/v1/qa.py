"""Events of the QA (attestation) service."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import AwareDatetime, Event, Identifier

Decision = Literal["positive", "positive_with_conditions", "negative"]


class AttestationSubject(BaseModel):
    """What an attestation covers: a provider as a whole, or one achievement specification."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: Literal["issuer", "achievement"]
    id: Identifier


class AttestationScope(BaseModel):
    """Optional limits of an attestation."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    eqf_levels: list[int] | None = None
    fields: list[str] | None = None
    jurisdictions: list[str] | None = None


class AttestationSubmitted(Event):
    """A QA agency submits, renews or withdraws an attestation: the signed Open Badges 3.0
    `EndorsementCredential` is the authority; the other fields route it."""

    event_type = "credstream.qa.attestation.submitted"

    agency_id: Identifier
    action: Literal["grant", "renew", "withdraw"]
    endorsement: dict[str, Any] = Field(description="The agency-signed EndorsementCredential.")
    attestation_id: Identifier | None = Field(
        default=None,
        description="For renew and withdraw: the attestation concerned (routing only; the signed "
        "endorsement's `qualityAssurance.attestation` is authoritative and must agree).",
    )


class _AttestationFact(Event):
    attestation_id: Identifier
    agency_id: Identifier
    subject: AttestationSubject
    decision: Decision
    scope: AttestationScope = AttestationScope()
    standard: str
    report_url: str | None = None
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None
    endorsement_id: Identifier | None = None
    occurred_at: AwareDatetime
    agency_did: Identifier | None = Field(
        default=None, description="The agency's DID (its signing key's controller)."
    )
    agency_name: str | None = Field(default=None, max_length=512)
    endorsement: dict[str, Any] | None = Field(
        default=None, description="The agency-signed EndorsementCredential this fact rests on."
    )


class AttestationGranted(_AttestationFact):
    """The QA service accepted an agency's attestation."""

    event_type = "credstream.qa.attestation.granted"


class AttestationRenewed(_AttestationFact):
    """An attestation's validity was extended by its agency."""

    event_type = "credstream.qa.attestation.renewed"


class AttestationWithdrawn(_AttestationFact):
    """An agency withdrew an attestation; `occurred_at` is the effective date."""

    event_type = "credstream.qa.attestation.withdrawn"


class AttestationExpired(_AttestationFact):
    """An attestation reached its `valid_until` (detected by the QA service itself)."""

    event_type = "credstream.qa.attestation.expired"
