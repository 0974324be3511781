"""Kafka subscribers of the issuance service: thin, one per event (style guide, section 3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg
from faststream.kafka import KafkaBroker
from opentelemetry.context import Context

from contracts.topics import (
    ACHIEVEMENT_DEFINITIONS,
    ACHIEVEMENTS_EARNED,
    CREDENTIALS_ISSUED,
    QA_ATTESTATIONS,
    STATUS_INDEX_BLOCKS,
    STATUS_INDEX_REQUESTS,
    STATUS_REQUESTS,
)
from contracts.v1.assessment import AchievementDefined, AchievementEarned
from contracts.v1.issuance import CredentialIssued
from contracts.v1.qa import AttestationExpired, AttestationGranted, AttestationRenewed, AttestationWithdrawn
from contracts.v1.revocation import (
    CredentialStatusChangeRequested,
    StatusIndexBlockRequested,
    StatusIndexBlockReserved,
)
from services.issuance import service
from services.issuance.assurance import QaAttestation
from services.issuance.domain import Award, Learner
from services.issuance.repository import IssuanceRepository
from services.issuance.service import IssuanceContext
from services.issuance.settings import Settings
from services.issuance.status import FreeIndexGauge, StatusPolicy, receive_block
from services.issuance.status_repository import StatusPoolRepository
from services.runtime import outbox
from services.runtime.faults import crash_point
from services.runtime.messaging import Batched, ConsumerPipeline, InboundEvent, subscribe


def issuance_context(
    conn: asyncpg.Connection,
    settings: Settings,
    traces: Mapping[str, Context | None] | None = None,
    gauge: FreeIndexGauge | None = None,
) -> IssuanceContext:
    """The outbox publishers bound to this transaction's connection, plus the configuration.
    `traces` maps an earned id to the trace context of the record that brought it (batches);
    `gauge` is the consumer's memory of the status pools (without one, every take counts)."""

    async def publish_issued(events: Sequence[CredentialIssued]) -> None:
        await outbox.enqueue_all(
            conn,
            [
                outbox.Outgoing(
                    topic=CREDENTIALS_ISSUED,
                    key=event.credential_id,
                    event=event,
                    source=settings.event_source,
                    # One event id per credential: a re-issued row is recognisably the same fact.
                    event_id=event.credential_id,
                    subject=event.credential_id,
                    # The trace of the achievement.earned record that caused it, when batched.
                    context=traces.get(event.earned_id or "") if traces else None,
                )
                for event in events
            ],
        )

    async def publish_defined(event: AchievementDefined) -> None:
        await outbox.enqueue(
            conn,
            topic=ACHIEVEMENT_DEFINITIONS,
            key=event.achievement_id,
            event=event,
            source=settings.event_source,
            event_id=f"{event.achievement_id}@{event.revision}",
            subject=event.achievement_id,
        )

    async def publish_index_request(event: StatusIndexBlockRequested) -> None:
        await outbox.enqueue(
            conn,
            topic=STATUS_INDEX_REQUESTS,
            key=event.issuer_id,
            event=event,
            source=settings.event_source,
            event_id=event.request_id,
            subject=event.issuer_id,
        )

    async def publish_status_request(event: CredentialStatusChangeRequested) -> None:
        await outbox.enqueue(
            conn,
            topic=STATUS_REQUESTS,
            key=event.credential_id,
            event=event,
            source=settings.event_source,
            event_id=event.request_id,
            subject=event.credential_id,
        )

    return IssuanceContext(
        public_base_url=settings.public_base_url,
        keyring=settings.keyring(),
        publish_issued=publish_issued,
        publish_defined=publish_defined,
        status=StatusPolicy(
            enabled=settings.credential_status,
            block_size=settings.status_block_size,
            low_water=settings.status_low_water,
            publish_request=publish_index_request,
            gauge=gauge or FreeIndexGauge(),
        ),
        publish_status_request=publish_status_request,
        actor=settings.event_source,
    )


AttestationFact = AttestationGranted | AttestationRenewed | AttestationWithdrawn | AttestationExpired
_KINDS = {
    AttestationGranted: "granted",
    AttestationRenewed: "renewed",
    AttestationWithdrawn: "withdrawn",
    AttestationExpired: "expired",
}


def qa_view(event: AttestationFact) -> tuple[str, QaAttestation]:
    """The contract event as a row of issuance's QA view (the contract stays at the edge)."""
    kind = _KINDS[type(event)]
    status = {"withdrawn": "withdrawn", "expired": "expired"}.get(kind, "active")
    return kind, QaAttestation(
        attestation_id=event.attestation_id,
        agency_id=event.agency_id,
        agency_did=event.agency_did,
        agency_name=event.agency_name,
        subject_kind=event.subject.kind,
        subject_id=event.subject.id,
        decision=event.decision,
        scope=event.scope.model_dump(exclude_none=True),
        standard=event.standard,
        report_url=event.report_url,
        valid_from=event.valid_from,
        valid_until=event.valid_until,
        status=status,
        withdrawn_at=event.occurred_at if kind == "withdrawn" else None,
        endorsement_id=event.endorsement_id,
    )


def award_of(earned: AchievementEarned) -> Award:
    """The contract event as the issuance domain's award (the contract stays at the edge)."""
    return Award(
        earned_id=earned.earned_id,
        issuer_id=earned.issuer_id,
        achievement_id=earned.achievement_id,
        award=earned.award,
        learner=Learner(
            learner_id=earned.learner.id,
            email=earned.learner.email,
            name=earned.learner.name,
            did=earned.learner.did,
        ),
        earned_at=earned.earned_at,
    )


def register(broker: KafkaBroker, pipeline: ConsumerPipeline, settings: Settings) -> None:
    gauge = FreeIndexGauge()

    async def on_achievements_earned(
        batch: Sequence[InboundEvent[AchievementEarned]], conn: asyncpg.Connection
    ) -> None:
        awards = [award_of(inbound.event) for inbound in batch]
        traces = {inbound.event.earned_id: inbound.trace for inbound in batch}
        await service.issue_awards(
            awards, repo=IssuanceRepository(conn), ctx=issuance_context(conn, settings, traces, gauge)
        )
        # Signed and written, not yet committed: the kill tests crash here.
        crash_point(settings.fault_injection, "issuance.before_commit")

    async def on_index_block_reserved(
        inbound: InboundEvent[StatusIndexBlockReserved], conn: asyncpg.Connection
    ) -> None:
        await receive_block(inbound.event, pool=StatusPoolRepository(conn))
        # Awards that waited for indexes go out now, in this transaction.
        await service.release_waiting_for_indexes(
            inbound.event.issuer_id, repo=IssuanceRepository(conn), ctx=issuance_context(conn, settings)
        )

    async def on_attestation_fact(inbound: InboundEvent[AttestationFact], conn: asyncpg.Connection) -> None:
        kind, attestation = qa_view(inbound.event)
        await service.apply_attestation(
            kind,
            attestation,
            endorsement=inbound.event.endorsement,
            repo=IssuanceRepository(conn),
            ctx=issuance_context(conn, settings),
        )

    subscribe(
        broker,
        pipeline,
        [
            (ACHIEVEMENTS_EARNED, Batched(on_achievements_earned)),
            (QA_ATTESTATIONS, on_attestation_fact),
            (STATUS_INDEX_BLOCKS, on_index_block_reserved),
        ],
        settings=settings,
    )
