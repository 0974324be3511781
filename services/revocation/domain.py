"""The revocation service's vocabulary: status change requests, outcomes, list identities."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

from services.runtime.errors import DomainError

Purpose = Literal["revocation", "suspension"]
PURPOSES: tuple[Purpose, ...] = ("revocation", "suspension")
Channel = Literal["event", "http"]


class RevocationError(DomainError):
    """A request that can never succeed as sent (dead-lettered, or a 4xx over HTTP)."""


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    """One requested change: set (revoke / suspend) or clear (lift a suspension) one bit."""

    request_id: str
    credential_id: str
    purpose: Purpose
    set: bool
    reason_code: str
    reason: str | None
    actor: str
    channel: Channel
    issuer_id: str | None = None
    """When given, the credential must belong to this issuer (tenant check)."""


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One row of the append-only status audit: who asked for what, when, why, and what came of
    it (reasons stay here; they never appear in a public list)."""

    request_id: str
    credential_id: str
    issuer_id: str
    purpose: Purpose
    set_bit: bool
    outcome: str
    refusal: str | None
    reason_code: str
    reason: str | None
    actor: str
    channel: Channel
    list_id: str
    idx: int


AUDIT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(AuditRow))
"""The audit's columns, in the order of `AuditRow`'s fields (the COPY of `append_audit`)."""


@dataclass(frozen=True, slots=True)
class ChangeOutcome:
    request_id: str
    credential_id: str
    purpose: Purpose
    set: bool
    outcome: Literal["applied", "unchanged", "refused", "pending"]
    refusal: str | None = None
    list_url: str | None = None
    index: int | None = None

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "requestId": self.request_id,
            "credentialId": self.credential_id,
            "statusPurpose": self.purpose,
            "set": self.set,
            "outcome": self.outcome,
        }
        if self.refusal:
            body["refusal"] = self.refusal
        if self.list_url is not None:
            body["statusListCredential"] = self.list_url
            body["statusListIndex"] = str(self.index)
        return body


def list_url(base_url: str, issuer_id: str, purpose: str, seq: int) -> str:
    return f"{base_url.rstrip('/')}/status-lists/{issuer_id}/{purpose}/{seq}"


def list_id(issuer_id: str, purpose: str, seq: int) -> str:
    return f"{issuer_id}/{purpose}/{seq}"
