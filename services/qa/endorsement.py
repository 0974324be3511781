"""Reading and verifying an agency's Open Badges 3.0 `EndorsementCredential`.

The endorsement is the authority for an attestation: its subject (`credentialSubject.id`, an
issuer `urn:credstream:issuer:<id>` or an achievement `urn:credstream:achievement:<id>`), and the
`qualityAssurance` node inside the subject (credstream context terms: `decision`, `standard`,
`reportUrl`, `attestationAction`, `attestation`, `scopeEqfLevel`, `scopeField`,
`scopeJurisdiction`) with the credential's `validFrom` / `validUntil`. Its Data Integrity proof is
checked with the same verifier as every credential, against the agency's registered keys only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

from services.qa.domain import (
    ACHIEVEMENT_SUBJECT,
    ISSUER_SUBJECT,
    Action,
    Agency,
    Claim,
    Decision,
    QaRejected,
    Scope,
    SubjectKind,
)
from vc.keys import StaticKeyResolver
from vc.proofs import ProofError, verify_proof

ACTIONS: tuple[Action, ...] = ("grant", "renew", "withdraw")
DECISIONS: tuple[Decision, ...] = ("positive", "positive_with_conditions", "negative")


def _invalid(message: str) -> QaRejected:
    return QaRejected("endorsement_invalid", message)


def _time(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a dateTime string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(f"{name} is not a dateTime") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(node: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    value = node.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > 2000:
        raise _invalid(f"qualityAssurance.{key} must be a non-empty string")
    return value


def _list(node: Mapping[str, Any], key: str, kind: type) -> list[Any] | None:
    value = node.get(key)
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, kind) and not isinstance(v, bool) for v in values):
        raise _invalid(f"qualityAssurance.{key} must be a {kind.__name__} or a list of them")
    return values


def _subject(subject_id: Any) -> tuple[SubjectKind, str]:
    if isinstance(subject_id, str):
        for prefix, kind in ((ISSUER_SUBJECT, "issuer"), (ACHIEVEMENT_SUBJECT, "achievement")):
            if subject_id.startswith(prefix) and len(subject_id) > len(prefix):
                return cast(SubjectKind, kind), subject_id.removeprefix(prefix)
    raise _invalid(f"credentialSubject.id must be {ISSUER_SUBJECT}<id> or {ACHIEVEMENT_SUBJECT}<id>")


def read_claim(document: Mapping[str, Any]) -> Claim:
    """The attestation an endorsement states; QaRejected(endorsement_invalid) if it is not one."""
    types = document.get("type")
    if not isinstance(types, list) or "EndorsementCredential" not in types:
        raise _invalid("type must list EndorsementCredential")
    endorsement_id, issuer = document.get("id"), document.get("issuer")
    issuer_did = issuer.get("id") if isinstance(issuer, Mapping) else issuer
    if not isinstance(endorsement_id, str) or not isinstance(issuer_did, str):
        raise _invalid("the endorsement needs an id and an issuer")
    subject = document.get("credentialSubject")
    if not isinstance(subject, Mapping) or "EndorsementSubject" not in (subject.get("type") or []):
        raise _invalid("credentialSubject must be an EndorsementSubject")
    kind, subject_id = _subject(subject.get("id"))
    qa = subject.get("qualityAssurance")
    if not isinstance(qa, Mapping):
        raise _invalid("credentialSubject.qualityAssurance is missing")
    action, decision = qa.get("attestationAction"), qa.get("decision")
    if action not in ACTIONS:
        raise _invalid(f"qualityAssurance.attestationAction must be one of {ACTIONS}")
    if decision not in DECISIONS:
        raise _invalid(f"qualityAssurance.decision must be one of {DECISIONS}")
    until = document.get("validUntil")
    return Claim(
        endorsement_id=endorsement_id,
        issuer_did=issuer_did,
        subject_kind=kind,
        subject_id=subject_id,
        action=cast(Action, action),
        decision=cast(Decision, decision),
        standard=cast(str, _text(qa, "standard")),
        report_url=_text(qa, "reportUrl", required=False),
        attestation_ref=_text(qa, "attestation", required=action != "grant"),
        scope=Scope(
            eqf_levels=_list(qa, "scopeEqfLevel", int),
            fields=_list(qa, "scopeField", str),
            jurisdictions=_list(qa, "scopeJurisdiction", str),
        ),
        valid_from=_time(document.get("validFrom"), "validFrom"),
        valid_until=None if until is None else _time(until, "validUntil"),
    )


# Verifier codes with a dead-letter reason of their own; every other code is `proof_invalid`.
_PROOF_REASONS = {
    "SIGNATURE_INVALID": "signature_invalid",
    "CANONICALIZATION_LIMIT": "canonicalization_limit",
}


def verify_signature(document: Mapping[str, Any], agency: Agency, *, now: datetime) -> None:
    """The proof must verify with one of the agency's registered keys (and no other key)."""
    resolver = StaticKeyResolver.of([agency.did_document()])
    try:
        proof = verify_proof(document, resolver=resolver, now=now)
    except ProofError as error:
        reason = _PROOF_REASONS.get(error.code, "proof_invalid")
        raise QaRejected(reason, f"{error.code}: {error.message}") from error
    if proof.verification_method not in agency.verification_methods() or proof.controller != agency.did:
        raise QaRejected(
            "key_not_registered",
            f"{proof.verification_method} is not a registered key of agency {agency.agency_id}",
        )
