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


class StatusIndexBlockRequested(Event):
    """Issuance asks the revocation service for a block of status list indexes for one issuer and
    purpose (sent when its pool of unused indexes runs low; see docs/revocation.md)."""

    event_type = "credstream.status.index-block.requested"

    request_id: Identifier
    issuer_id: Identifier
    issuer_did: Identifier = Field(description="The issuer's DID: the status list credential's issuer.")
    purpose: StatusPurpose
    size: int = Field(ge=1, le=65_536)


class StatusIndexBlockReserved(Event):
    """The revocation service reserved indexes of one status list for one issuer and purpose.

    The indexes are random positions of the list, never handed out before (unique in the revocation
    service's database); issuance assigns each to one credential at most.
    """

    event_type = "credstream.status.index-block.reserved"

    block_id: Identifier
    request_id: Identifier
    issuer_id: Identifier
    purpose: StatusPurpose
    status_list_credential: str = Field(description="URL of the BitstringStatusListCredential.")
    indexes: list[int] = Field(min_length=1, max_length=65_536)
    reserved_at: AwareDatetime
