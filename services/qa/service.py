"""Use cases of the QA service. No FastStream and no SQL here."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from contracts.topics import QA_ATTESTATIONS
from contracts.v1.qa import (
    AttestationExpired,
    AttestationGranted,
    AttestationRenewed,
    AttestationScope,
    AttestationSubject,
    AttestationSubmitted,
    AttestationWithdrawn,
)
from services.qa.domain import (
    Agency,
    Attestation,
    Claim,
    QaRejected,
    check_no_wider,
    check_remit,
    check_validity,
)
from services.qa.endorsement import read_claim, verify_signature
from services.runtime.outbox import EventOutbox

Fact = AttestationGranted | AttestationRenewed | AttestationWithdrawn | AttestationExpired


class QaStore(Protocol):
    """What the use cases read and write: the register's agencies, attestations with their
    history, and the achievements attestations may name (services/qa/repository.py; the unit
    tests' in-memory fake)."""

    async def upsert_agency(self, agency: Agency) -> bool: ...
    async def get_agency(self, agency_id: str) -> Agency | None: ...
    async def get_attestation(
        self, attestation_id: str, *, for_update: bool = False
    ) -> Attestation | None: ...
    async def insert_attestation(self, a: Attestation) -> bool: ...
    async def update_attestation(self, a: Attestation) -> None: ...
    async def due_for_expiry(self, *, now: datetime, limit: int = 200) -> list[Attestation]: ...
    async def add_history(
        self, *, attestation_id: str, action: str, endorsement: dict[str, Any] | None, occurred_at: datetime
    ) -> None: ...
    async def upsert_achievement(
        self, *, achievement_id: str, issuer_id: str, revision: int, name: str, status: str
    ) -> None: ...
    async def known_achievements(
        self, *, achievement_id: str | None = None, issuer_id: str | None = None
    ) -> list[dict[str, Any]]: ...


_FACTS: dict[str, type[Fact]] = {
    "granted": AttestationGranted,
    "renewed": AttestationRenewed,
    "withdrawn": AttestationWithdrawn,
    "expired": AttestationExpired,
}


def fact(
    kind: str,
    a: Attestation,
    agency: Agency | None,
    *,
    occurred_at: datetime,
    endorsement: dict[str, Any] | None = None,
) -> Fact:
    """The outgoing event for attestation `a` after `kind` happened to it, carrying the signed
    endorsement that caused it (the withdrawing one for a withdrawal; the current one otherwise)."""
    cause = endorsement or a.endorsement
    return _FACTS[kind](
        attestation_id=a.attestation_id,
        agency_id=a.agency_id,
        agency_did=agency.did if agency else None,
        agency_name=agency.name if agency else None,
        subject=AttestationSubject(kind=a.subject_kind, id=a.subject_id),
        decision=a.decision,
        scope=AttestationScope(**a.scope.as_json()),
        standard=a.standard,
        report_url=a.report_url,
        valid_from=a.valid_from,
        valid_until=a.valid_until,
        endorsement_id=str(cause.get("id", a.endorsement_id)),
        endorsement=cause,
        occurred_at=occurred_at,
    )


async def register_agency(agency: Agency, *, repo: QaStore) -> bool:
    """Create or update an agency in the register (operators only). True when new."""
    return await repo.upsert_agency(agency)


async def accept_submission(
    event: AttestationSubmitted, *, repo: QaStore, outbox: EventOutbox, now: datetime | None = None
) -> str:
    """Check an agency's signed submission and apply it; returns the attestation id.

    Raises QaRejected (reason: agency_unknown, agency_suspended, endorsement_invalid,
    agency_mismatch, signature_invalid, canonicalization_limit, proof_invalid, key_not_registered,
    action_mismatch, validity_inconsistent, out_of_remit, subject_unknown, attestation_unknown,
    attestation_not_active, scope_widened, attestation_exists). Nothing is written when it raises.
    A withdrawal by the agency that made the attestation is never refused for the scope it states
    or leaves out, the standard it names, the agency's remit or the agency's suspension.
    """
    moment = now or datetime.now(UTC)
    agency = await repo.get_agency(event.agency_id)
    if agency is None:
        raise QaRejected("agency_unknown", f"agency {event.agency_id} is not in the register")
    # A withdrawal only takes assurance away. Neither the agency's standing in the register nor
    # its remit may stop it: an agency must always be able to pull back what it granted. What a
    # withdrawal must prove is that it is the agency's own (signature, registered key) and that it
    # names the agency's own attestation (`_change`).
    if agency.status != "active" and event.action != "withdraw":
        raise QaRejected("agency_suspended", f"agency {event.agency_id} is suspended")
    claim = read_claim(event.endorsement)
    if claim.issuer_did != agency.did:
        raise QaRejected(
            "agency_mismatch", f"the endorsement's issuer {claim.issuer_did} is not {agency.did}"
        )
    verify_signature(event.endorsement, agency, now=moment)
    if claim.action != event.action or (
        event.attestation_id and event.attestation_id != claim.attestation_ref
    ):
        raise QaRejected("action_mismatch", "the routing fields disagree with the signed endorsement")
    check_validity(claim, moment)
    if claim.action != "withdraw":  # the scope of a withdrawal is the attestation's own
        check_remit(agency, claim)
    if claim.action == "grant":
        await _check_subject(claim, repo)
        return await _grant(claim, event, agency, repo=repo, outbox=outbox, now=moment)
    return await _change(claim, event, agency, repo=repo, outbox=outbox)


async def _check_subject(claim: Claim, repo: QaStore) -> None:
    """A new attestation must name an achievement the issuance service has defined, or an issuer
    that has defined at least one (renewals and withdrawals concern subjects checked at grant)."""
    key = "achievement_id" if claim.subject_kind == "achievement" else "issuer_id"
    if not await repo.known_achievements(**{key: claim.subject_id}):
        raise QaRejected(
            "subject_unknown", f"no {claim.subject_kind} {claim.subject_id} is defined for issuance"
        )


async def note_achievement(
    *, achievement_id: str, issuer_id: str, revision: int, name: str, status: str, repo: QaStore
) -> None:
    """Remember an achievement definition: the subjects attestations may name."""
    await repo.upsert_achievement(
        achievement_id=achievement_id, issuer_id=issuer_id, revision=revision, name=name, status=status
    )


async def _grant(
    claim: Claim, event: AttestationSubmitted, agency: Agency, *, repo: QaStore, outbox: EventOutbox,
    now: datetime,
) -> str:  # fmt: skip
    attestation = Attestation(
        attestation_id=claim.endorsement_id,
        agency_id=agency.agency_id,
        subject_kind=claim.subject_kind,
        subject_id=claim.subject_id,
        decision=claim.decision,
        scope=claim.scope,
        standard=claim.standard,
        report_url=claim.report_url,
        valid_from=claim.valid_from,
        valid_until=claim.valid_until,
        status="active",
        endorsement_id=claim.endorsement_id,
        endorsement=dict(event.endorsement),
    )
    if not await repo.insert_attestation(attestation):
        existing = await repo.get_attestation(claim.endorsement_id)
        if existing is not None and existing.endorsement == attestation.endorsement:
            return attestation.attestation_id  # the same endorsement sent again: applied already
        raise QaRejected("attestation_exists", f"attestation {claim.endorsement_id} exists already")
    await repo.add_history(
        attestation_id=attestation.attestation_id, action="granted", endorsement=attestation.endorsement,
        occurred_at=now,
    )  # fmt: skip
    await outbox.enqueue(QA_ATTESTATIONS, fact("granted", attestation, agency, occurred_at=now))
    return attestation.attestation_id


async def _change(
    claim: Claim, event: AttestationSubmitted, agency: Agency, *, repo: QaStore, outbox: EventOutbox
) -> str:
    assert claim.attestation_ref is not None  # read_claim requires it for renew and withdraw
    current = await repo.get_attestation(claim.attestation_ref, for_update=True)
    if current is None or current.agency_id != agency.agency_id:
        raise QaRejected(
            "attestation_unknown", f"{agency.agency_id} has no attestation {claim.attestation_ref}"
        )
    if (current.subject_kind, current.subject_id) != (claim.subject_kind, claim.subject_id):
        raise QaRejected("attestation_unknown", "the endorsement's subject differs from the attestation's")
    if current.status != "active":
        raise QaRejected(
            "attestation_not_active", f"attestation {current.attestation_id} is {current.status}"
        )
    endorsement = dict(event.endorsement)
    if claim.action == "renew":
        check_no_wider(current.scope, claim.scope)
        kind = "renewed"
        changed = replace(
            current, decision=claim.decision, scope=claim.scope, standard=claim.standard,
            report_url=claim.report_url or current.report_url, valid_until=claim.valid_until,
            endorsement_id=claim.endorsement_id, endorsement=endorsement,
        )  # fmt: skip
        occurred_at = claim.valid_from
    else:
        # The withdrawal takes effect at the withdrawing endorsement's validFrom. The row keeps the
        # content of the last grant or renewal; the withdrawing endorsement is in the history.
        kind, occurred_at = "withdrawn", claim.valid_from
        changed = replace(current, status="withdrawn", withdrawn_at=occurred_at)
    await repo.update_attestation(changed)
    await repo.add_history(
        attestation_id=current.attestation_id, action=kind, endorsement=endorsement, occurred_at=occurred_at
    )
    await outbox.enqueue(
        QA_ATTESTATIONS, fact(kind, changed, agency, occurred_at=occurred_at, endorsement=endorsement)
    )
    return current.attestation_id


async def expire_due(*, repo: QaStore, outbox: EventOutbox, now: datetime | None = None) -> int:
    """Mark every active attestation past its `validUntil` expired and announce it. Returns how
    many expired."""
    moment = now or datetime.now(UTC)
    due = await repo.due_for_expiry(now=moment)
    agencies: dict[str, Agency | None] = {}
    for attestation in due:
        if attestation.agency_id not in agencies:
            agencies[attestation.agency_id] = await repo.get_agency(attestation.agency_id)
        expired = replace(attestation, status="expired")
        await repo.update_attestation(expired)
        assert attestation.valid_until is not None
        await repo.add_history(
            attestation_id=attestation.attestation_id, action="expired", endorsement=None,
            occurred_at=attestation.valid_until,
        )  # fmt: skip
        await outbox.enqueue(
            QA_ATTESTATIONS,
            fact("expired", expired, agencies[attestation.agency_id], occurred_at=attestation.valid_until),
        )
    return len(due)
