"""Kafka subscribers of the revocation service: thin, one per event (docs/style.md, "The handler rule")."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from faststream.kafka import KafkaBroker

from contracts.topics import (
    CREDENTIALS_ISSUED,
    STATUS_INDEX_REQUESTS,
    STATUS_REQUESTS,
)
from contracts.v1.issuance import CredentialIssued
from contracts.v1.revocation import (
    CredentialStatusChangeRequested,
    StatusIndexBlockRequested,
)
from services.revocation import service
from services.revocation.context import ContextFactory
from services.revocation.domain import ChangeRequest
from services.revocation.repository import RevocationRepository
from services.revocation.service import Issued
from services.revocation.settings import Settings
from services.runtime.faults import crash_point
from services.runtime.messaging import Batched, ConsumerPipeline, InboundEvent, subscribe


def register(
    broker: KafkaBroker, pipeline: ConsumerPipeline, settings: Settings, context: ContextFactory
) -> None:
    """`context` binds the use cases' outbox and list publisher to a record's transaction (given
    by the composition root)."""

    async def on_index_block_requested(
        inbound: InboundEvent[StatusIndexBlockRequested], conn: asyncpg.Connection
    ) -> None:
        event = inbound.event
        await service.reserve_block(
            request_id=event.request_id,
            issuer_id=event.issuer_id,
            issuer_did=event.issuer_did,
            purpose=event.purpose,
            size=event.size,
            repo=RevocationRepository(conn),
            ctx=context(conn),
        )

    async def on_credentials_issued(
        batch: Sequence[InboundEvent[CredentialIssued]], conn: asyncpg.Connection
    ) -> None:
        await service.register_credentials(
            [Issued(i.event.credential_id, i.event.issuer_id, i.event.credential) for i in batch],
            repo=RevocationRepository(conn),
            ctx=context(conn),
        )

    async def on_status_change_requested(
        inbound: InboundEvent[CredentialStatusChangeRequested], conn: asyncpg.Connection
    ) -> None:
        event = inbound.event
        request = ChangeRequest(
            request_id=event.request_id,
            credential_id=event.credential_id,
            purpose=event.purpose,
            set=event.set,
            reason_code=event.reason_code,
            reason=event.reason,
            actor=event.actor,
            channel="event",
            issuer_id=event.issuer_id,
        )
        await service.apply_changes([request], repo=RevocationRepository(conn), ctx=context(conn))
        # Applied and audited, not yet committed: the kill tests crash here.
        crash_point(settings.fault_injection, "revocation.before_commit")

    subscribe(
        broker,
        pipeline,
        [
            (STATUS_INDEX_REQUESTS, on_index_block_requested),
            (CREDENTIALS_ISSUED, Batched(on_credentials_issued)),
            (STATUS_REQUESTS, on_status_change_requested),
        ],
        settings=settings,
    )
