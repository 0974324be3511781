"""Kafka subscribers of the assessment service: thin, one per event (style guide, section 3).

Validation, the transaction, the inbox and dead-lettering are the runtime pipeline's; a handler
only calls its use case with a repository and an outbox publisher bound to the transaction's
connection.
"""

from __future__ import annotations

import asyncpg
from faststream.kafka import KafkaBroker

from contracts.topics import ACHIEVEMENT_DEFINITIONS, ACHIEVEMENTS_EARNED, ASSESSMENT_RESULTS
from contracts.v1.assessment import AchievementDefined, AchievementEarned, AssessmentResultSubmitted
from services.assessment import service
from services.assessment.repository import AssessmentRepository
from services.assessment.service import PublishEarned
from services.assessment.settings import Settings
from services.runtime import outbox
from services.runtime.messaging import ConsumerPipeline, InboundEvent, subscribe


def _publisher(conn: asyncpg.Connection, settings: Settings) -> PublishEarned:
    async def publish(event: AchievementEarned) -> None:
        await outbox.enqueue(
            conn,
            topic=ACHIEVEMENTS_EARNED,
            key=event.earned_id,
            event=event,
            source=settings.event_source,
            # The earned id is the event id: a re-derived award is recognisably the same event.
            event_id=event.earned_id,
            subject=event.learner.id,
        )

    return publish


def register(broker: KafkaBroker, pipeline: ConsumerPipeline, settings: Settings) -> None:
    async def on_assessment_result_submitted(
        inbound: InboundEvent[AssessmentResultSubmitted], conn: asyncpg.Connection
    ) -> None:
        await service.record_result(
            inbound.event,
            raw=inbound.raw,
            source_format="credstream",
            repo=AssessmentRepository(conn),
            publish=_publisher(conn, settings),
        )

    async def on_achievement_defined(
        inbound: InboundEvent[AchievementDefined], conn: asyncpg.Connection
    ) -> None:
        await service.define_achievement(
            inbound.event, repo=AssessmentRepository(conn), publish=_publisher(conn, settings)
        )

    subscribe(
        broker,
        pipeline,
        [
            (ASSESSMENT_RESULTS, on_assessment_result_submitted),
            (ACHIEVEMENT_DEFINITIONS, on_achievement_defined),
        ],
        settings=settings,
    )
