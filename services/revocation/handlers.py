"""Kafka subscribers of the revocation service: thin, one per event (style guide, section 3)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from faststream.kafka import KafkaBroker

from contracts.topics import (
    CREDENTIAL_STATUS,
    CREDENTIALS_ISSUED,
    STATUS_INDEX_BLOCKS,
    STATUS_INDEX_REQUESTS,
    STATUS_REQUESTS,
)
from contracts.v1.issuance import CredentialIssued
from contracts.v1.revocation import (
    CredentialStatusChanged,
    CredentialStatusChangeRequested,
    StatusIndexBlockRequested,
    StatusIndexBlockReserved,
)
from services.revocation import service
from services.revocation.domain import ChangeRequest
from services.revocation.publisher import Signer, publish_list
from services.revocation.repository import RevocationRepository, StatusList
from services.revocation.service import Issued, RevocationContext
from services.revocation.settings import Settings
from services.runtime import outbox
from services.runtime.faults import crash_point
from services.runtime.messaging import Batched, ConsumerPipeline, InboundEvent, subscribe


def revocation_context(conn: asyncpg.Connection, settings: Settings, sign: Signer) -> RevocationContext:
    """The outbox publishers bound to this transaction's connection, plus the configuration."""

    async def publish_reserved(event: StatusIndexBlockReserved) -> None:
        await outbox.enqueue(
            conn,
            topic=STATUS_INDEX_BLOCKS,
            key=event.issuer_id,
            event=event,
            source=settings.event_source,
            event_id=event.block_id,
            subject=event.status_list_credential,
        )

    async def publish_changed(changes: Sequence[dict[str, Any]]) -> None:
        await outbox.enqueue_many(
            conn,
            topic=CREDENTIAL_STATUS,
            source=settings.event_source,
            event_type=CredentialStatusChanged,
            items=[(c["credential_id"], c, c["change_id"], c["credential_id"]) for c in changes],
        )

    async def publish_now(status_list: StatusList) -> None:
        await publish_list(RevocationRepository(conn), status_list, sign=sign, ttl_s=settings.list_ttl_s)

    return RevocationContext(
        public_base_url=settings.public_base_url,
        list_length=settings.list_length,
        list_ttl_s=settings.list_ttl_s,
        event_source=settings.event_source,
        publish_reserved=publish_reserved,
        publish_changed=publish_changed,
        publish_list=publish_now,
    )


def register(broker: KafkaBroker, pipeline: ConsumerPipeline, settings: Settings, sign: Signer) -> None:
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
            ctx=revocation_context(conn, settings, sign),
        )

    async def on_credentials_issued(
        batch: Sequence[InboundEvent[CredentialIssued]], conn: asyncpg.Connection
    ) -> None:
        await service.register_credentials(
            [Issued(i.event.credential_id, i.event.issuer_id, i.event.credential) for i in batch],
            repo=RevocationRepository(conn),
            ctx=revocation_context(conn, settings, sign),
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
        await service.apply_changes(
            [request], repo=RevocationRepository(conn), ctx=revocation_context(conn, settings, sign)
        )
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
