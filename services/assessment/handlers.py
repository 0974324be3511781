"""Kafka subscribers of the assessment service: thin, one per event (docs/style.md, "The handler rule").

Validation, the transaction, the inbox and dead-lettering are the runtime pipeline's; a handler
only calls its use case with a repository and the outbox bound to the transaction's connection.
Records of the LMS topics carry a foreign payload: the handler finds the LMS by the record's
CloudEvents source and normalises the payload with that format's adapter; a refusal is an
`IngestRejected`, which the pipeline dead-letters with its reason code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
from faststream.kafka import KafkaBroker

from contracts.topics import (
    ACHIEVEMENT_DEFINITIONS,
    ASSESSMENT_RESULTS,
    LMS_CALIPER,
    LMS_LTI_SCORES,
    LMS_XAPI,
)
from contracts.v1.assessment import AchievementDefined, AssessmentResultSubmitted
from services.assessment import service
from services.assessment.adapters import caliper, lti, xapi
from services.assessment.adapters.common import Normalised
from services.assessment.domain import IngestRejected
from services.assessment.lms import LmsDirectory, LmsProfile
from services.assessment.repository import AssessmentRepository
from services.assessment.service import Submission
from services.assessment.settings import Settings
from services.runtime.messaging import Batched, ConsumerPipeline, Handler, InboundEvent, subscribe
from services.runtime.outbox import Publisher


def register(
    broker: KafkaBroker, pipeline: ConsumerPipeline, settings: Settings, publisher: Publisher
) -> None:
    directory = settings.lms_directory()

    async def on_assessment_results_submitted(
        batch: Sequence[InboundEvent[AssessmentResultSubmitted]], conn: asyncpg.Connection
    ) -> None:
        # Each learner's award continues the trace of (the last of) its results in the batch.
        traces = {(i.event.issuer_id, i.event.learner.id): i.trace for i in batch}
        await service.record_results(
            [Submission(i.event, i.raw, "credstream") for i in batch],
            repo=AssessmentRepository(conn),
            outbox=publisher.bind(conn, trace_of=lambda e: traces.get((e.issuer_id, e.learner.id))),
        )

    async def on_achievement_defined(
        inbound: InboundEvent[AchievementDefined], conn: asyncpg.Connection
    ) -> None:
        await service.define_achievement(
            inbound.event,
            repo=AssessmentRepository(conn),
            outbox=publisher.bind(conn),
        )

    subscribe(
        broker,
        pipeline,
        [
            (ASSESSMENT_RESULTS, Batched(on_assessment_results_submitted)),
            (LMS_XAPI, _foreign(directory, publisher, _xapi)),
            (LMS_CALIPER, _foreign(directory, publisher, _caliper)),
            (LMS_LTI_SCORES, _foreign(directory, publisher, _lti)),
            (ACHIEVEMENT_DEFINITIONS, on_achievement_defined),
        ],
        settings=settings,
    )


Adapt = Callable[[InboundEvent[Any], LmsProfile], list[Normalised]]


def _foreign(directory: LmsDirectory, publisher: Publisher, adapt: Adapt) -> Handler:
    async def on_lms_payload(inbound: InboundEvent[Any], conn: asyncpg.Connection) -> None:
        lms = directory.by_source(inbound.attributes.source)
        results = adapt(inbound, lms)
        await service.record_normalised(
            results,
            lms_id=lms.lms_id,
            repo=AssessmentRepository(conn),
            outbox=publisher.bind(conn),
        )

    return on_lms_payload


def _xapi(inbound: InboundEvent[Any], lms: LmsProfile) -> list[Normalised]:
    received = inbound.attributes.time or datetime.now(UTC)
    return [xapi.statement_to_result(json.loads(inbound.raw), lms, received_at=received, raw=inbound.raw)]


def _caliper(inbound: InboundEvent[Any], lms: LmsProfile) -> list[Normalised]:
    return caliper.envelope_to_results(json.loads(inbound.raw), lms)


def _lti(inbound: InboundEvent[Any], lms: LmsProfile) -> list[Normalised]:
    if not inbound.attributes.subject:
        raise IngestRejected("missing_field", "ce_subject (the score's line item) is required")
    found = lti.score_to_result(
        json.loads(inbound.raw), lms, line_item=inbound.attributes.subject, raw=inbound.raw
    )
    return [found] if found is not None else []
