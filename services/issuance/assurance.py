"""Issuance's own view of QA attestations (from credstream.qa.attestations.v1) and the rule that
decides whether an award is covered. Pure: no I/O, the caller passes the clock.

An award is covered when an attestation of a registered agency is active (not withdrawn, not
expired), positive (with or without conditions), inside its validity window at the time of issue,
and its subject is the award's achievement or its issuer, within the attestation's scope (EQF
level, jurisdiction). The window is checked here against the clock, so an attestation that ends
stops covering at once, whether or not the QA service's `expired` event has arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from services.issuance.domain import IssuerProfile, MicroCredentialSpec, QualityAssuranceRef

QaState = Literal["valid", "not_yet_valid", "expired", "withdrawn", "negative"]
COVERING_DECISIONS = ("positive", "positive_with_conditions")


@dataclass(frozen=True, slots=True)
class QaAttestation:
    attestation_id: str
    agency_id: str
    agency_did: str | None
    agency_name: str | None
    subject_kind: str
    subject_id: str
    decision: str
    scope: dict[str, Any]
    standard: str
    report_url: str | None
    valid_from: datetime
    valid_until: datetime | None
    status: str  # active | withdrawn | expired
    withdrawn_at: datetime | None
    endorsement_id: str | None

    def state(self, now: datetime) -> QaState:
        if self.status == "withdrawn" and (self.withdrawn_at is None or self.withdrawn_at <= now):
            return "withdrawn"
        if self.status == "expired" or (self.valid_until is not None and self.valid_until <= now):
            return "expired"
        if self.valid_from > now:
            return "not_yet_valid"
        return "valid" if self.decision in COVERING_DECISIONS else "negative"

    def in_scope(self, spec: MicroCredentialSpec, issuer: IssuerProfile) -> bool:
        levels, places = self.scope.get("eqf_levels"), self.scope.get("jurisdictions")
        return (not levels or spec.eqf_level in levels) and (not places or issuer.country_code in places)

    def reference(self) -> QualityAssuranceRef:
        """The credential's EU "type of quality assurance" element for this attestation."""
        who = self.agency_name or self.agency_id
        level = "this micro-credential" if self.subject_kind == "achievement" else "the awarding institution"
        return QualityAssuranceRef(
            qa_type="external",
            description=f"External quality assurance of {level} by {who} ({self.standard}): "
            f"decision {self.decision.replace('_', ' ')}.",
            agency_did=self.agency_did,
            agency_name=self.agency_name,
            standard=self.standard,
            decision=self.decision,
            attestation_id=self.attestation_id,
            report_url=self.report_url,  # validated as AnyUrl
        )


def unassured(spec: MicroCredentialSpec) -> QualityAssuranceRef:
    """The element when an issuer's `allow_unassured` policy lets an award through uncovered."""
    return QualityAssuranceRef(
        qa_type="internal",
        description="No external QA: no valid attestation by a registered QA agency covered this "
        f"award when it was issued. {spec.quality_assurance.description}"[:4000],
    )


def covering(
    candidates: list[QaAttestation], spec: MicroCredentialSpec, issuer: IssuerProfile, now: datetime
) -> tuple[QaAttestation | None, str]:
    """The attestation that covers an award now (programme-level first, then the longest-lasting),
    or None with the reason it waits."""
    relevant = [a for a in candidates if a.in_scope(spec, issuer)]
    valid = [a for a in relevant if a.state(now) == "valid"]
    if valid:
        best = min(
            valid, key=lambda a: (a.subject_kind != "achievement", -(a.valid_until or now).timestamp())
        )
        return best, ""
    subject = f"achievement {spec.achievement_id} or issuer {issuer.issuer_id}"
    for a in sorted(relevant, key=lambda a: a.valid_from, reverse=True):
        state = a.state(now)
        when = a.withdrawn_at if state == "withdrawn" else a.valid_until
        if state in ("withdrawn", "expired"):
            return (
                None,
                f"qa_{state}: the QA attestation {a.attestation_id} covering {subject} was {state} at {when}",
            )
        if state in ("negative", "not_yet_valid"):
            label = state.replace("_", " ")
            return None, f"qa_{state}: the QA attestation {a.attestation_id} for {subject} is {label}"
    return None, f"qa_missing: no valid QA attestation covers {subject}"
