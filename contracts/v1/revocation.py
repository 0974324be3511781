"""Events of the revocation (status) service."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.base import AwareDatetime, Event, Identifier

StatusPurpose = Literal["revocation", "suspension"]


class CredentialStatusChangeRequested(Event):
    """A provider, the QA withdrawal policy or an operator asks to change a credential's status.

    Revocation is final: a request to clear a revocation bit is refused by the service.
    """

    event_type = "credstream.credential.status-change.requested"

    request_id: Identifier
    credential_id: Identifier
    issuer_id: Identifier
    purpose: StatusPurpose
    set: bool = Field(description="true sets the bit (revoke/suspend); false lifts a suspension.")
    reason_code: str = Field(max_length=64)
    reason: str | None = Field(default=None, max_length=2000)
    actor: Identifier


class CredentialStatusChanged(Event):
    """A credential's status bit changed and its status list was re-published."""

    event_type = "credstream.credential.status-changed"

    change_id: Identifier
    credential_id: Identifier
    issuer_id: Identifier
    purpose: StatusPurpose
    set: bool
    status_list_credential: str
    status_list_index: str
    changed_at: AwareDatetime
