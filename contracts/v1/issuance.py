"""Events of the issuance service."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from contracts.base import AwareDatetime, Event, Identifier


class CredentialIssued(Event):
    """A credential was signed, stored and is now on the issuance stream.

    The stream is read by agencies and registries: it carries the full signed credential and never
    a clear-text learner e-mail (the credential identifies the learner by a salted hash or a DID).
    """

    event_type = "credstream.credential.issued"

    credential_id: Identifier
    issuer_id: Identifier
    achievement_id: Identifier
    earned_id: Identifier | None = Field(
        default=None, description="The achievement.earned fact this credential answers, if any."
    )
    issued_at: AwareDatetime
    credential: dict[str, Any] = Field(description="The signed Verifiable Credential (JSON-LD).")
