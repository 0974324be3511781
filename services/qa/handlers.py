"""Kafka subscribers of the QA service: thin, one per event (docs/style.md, "The handler rule"), and the
periodic expiry sweep."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from faststream.kafka import KafkaBroker

from contracts.topics import ACHIEVEMENT_DEFINITIONS, QA_SUBMISSIONS
from contracts.v1.assessment import AchievementDefined
from contracts.v1.qa import AttestationSubmitted
from services.qa import service
from services.qa.domain import QaRejected
from services.qa.repository import QaRepository
from services.qa.settings import Settings
from services.runtime.db import transaction
from services.runtime.faults import crash_point
from services.runtime.messaging import ConsumerPipeline, InboundEvent, subscribe
from services.runtime.outbox import Publisher

log = logging.getLogger(__name__)


def register(
    broker: KafkaBroker, pipeline: ConsumerPipeline, settings: Settings, publisher: Publisher
) -> None:
    async def on_attestation_submitted(
        inbound: InboundEvent[AttestationSubmitted], conn: asyncpg.Connection
    ) -> None:
        event = inbound.event
        endorsement_id = event.endorsement.get("id")

        async def audit(
            conn: asyncpg.Connection, outcome: str, reason: str | None, message: str | None
        ) -> None:
            await QaRepository(conn).audit(
                source=inbound.attributes.source,
                event_id=inbound.attributes.id,
                agency_id=event.agency_id,
                action=event.action,
                endorsement_id=str(endorsement_id)[:512] if endorsement_id else None,
                outcome=outcome,
                reason=reason,
                message=message,
            )

        try:
            await service.accept_submission(event, repo=QaRepository(conn), outbox=publisher.bind(conn))
        except QaRejected as rejected:
            # This transaction rolls back; the audit row of the refusal commits on its own.
            async with transaction(pipeline.pool) as audit_conn:
                await audit(audit_conn, "rejected", rejected.reason, str(rejected)[:2000])
            raise
        await audit(conn, "accepted", None, None)
        # Applied and written, not yet committed: the kill tests crash here.
        crash_point(settings.fault_injection, "qa.before_commit")

    async def on_achievement_defined(
        inbound: InboundEvent[AchievementDefined], conn: asyncpg.Connection
    ) -> None:
        event = inbound.event
        await service.note_achievement(
            achievement_id=event.achievement_id,
            issuer_id=event.issuer_id,
            revision=event.revision,
            name=event.name,
            status=event.status,
            repo=QaRepository(conn),
        )

    subscribe(
        broker,
        pipeline,
        [(QA_SUBMISSIONS, on_attestation_submitted), (ACHIEVEMENT_DEFINITIONS, on_achievement_defined)],
        settings=settings,
    )


async def sweep_expired(pool: asyncpg.Pool, settings: Settings, publisher: Publisher) -> None:
    """Every `expiry_check_interval_s`: expire what ended, in one transaction with its events."""
    while True:
        try:
            async with transaction(pool) as conn:
                expired = await service.expire_due(repo=QaRepository(conn), outbox=publisher.bind(conn))
            if expired:
                log.info("%d attestations expired", expired)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("expiry sweep failed; retrying")
        await asyncio.sleep(settings.expiry_check_interval_s)
