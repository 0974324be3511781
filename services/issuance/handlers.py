"""Kafka subscribers of the issuance service: thin, one per event (docs/style.md, "The handler rule")."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from faststream.kafka import KafkaBroker
from opentelemetry.context import Context

from contracts.base import Event
from contracts.topics import ACHIEVEMENTS_EARNED, QA_ATTESTATIONS, STATUS_INDEX_BLOCKS
from contracts.v1.assessment import AchievementEarned
from contracts.v1.issuance import CredentialIssued
from contracts.v1.qa import AttestationExpired, AttestationGranted, AttestationRenewed, AttestationWithdrawn
from contracts.v1.revocation import StatusIndexBlockReserved
from services.issuance import service
from services.issuance.assurance import QaAttestation
from services.issuance.context import ContextFactory
from services.issuance.domain import Award, Learner
from services.issuance.repository import IssuanceRepository
from services.issuance.settings import Settings
from services.issuance.status import FreeIndexGauge, receive_block
from services.runtime.faults import crash_point
from services.runtime.messaging import Batched, ConsumerPipeline, InboundEvent, subscribe

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


def register(
    broker: KafkaBroker, pipeline: ConsumerPipeline, settings: Settings, context: ContextFactory
) -> None:
    """`context` binds the use cases' outbox and status pool to a record's transaction (given by
    the composition root)."""
    gauge = FreeIndexGauge()

    async def on_achievements_earned(
        batch: Sequence[InboundEvent[AchievementEarned]], conn: asyncpg.Connection
    ) -> None:
        awards = [award_of(inbound.event) for inbound in batch]
        # Each credential continues the trace of the achievement.earned record that caused it.
        traces = {inbound.event.earned_id: inbound.trace for inbound in batch}

        def trace_of(event: Event) -> Context | None:
            return traces.get(event.earned_id or "") if isinstance(event, CredentialIssued) else None

        await service.issue_awards(
            awards, repo=IssuanceRepository(conn), ctx=context(conn, trace_of=trace_of, gauge=gauge)
        )
        # Signed and written, not yet committed: the kill tests crash here.
        crash_point(settings.fault_injection, "issuance.before_commit")

    async def on_index_block_reserved(
        inbound: InboundEvent[StatusIndexBlockReserved], conn: asyncpg.Connection
    ) -> None:
        ctx = context(conn)
        await receive_block(inbound.event, pool=ctx.status_pool)
        # Awards that waited for indexes go out now, in this transaction.
        await service.release_waiting_for_indexes(
            inbound.event.issuer_id, repo=IssuanceRepository(conn), ctx=ctx
        )

    async def on_attestation_fact(inbound: InboundEvent[AttestationFact], conn: asyncpg.Connection) -> None:
        kind, attestation = qa_view(inbound.event)
        await service.apply_attestation(
            kind,
            attestation,
            endorsement=inbound.event.endorsement,
            repo=IssuanceRepository(conn),
            ctx=context(conn),
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
