"""One trace from the LMS's publish to the outbox relay's publish; health and admin HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts.topics import ACHIEVEMENT_DEFINITIONS, ACHIEVEMENTS_EARNED, ASSESSMENT_RESULTS
from deploy.tools.publish import publish_event
from services.runtime.process import ServiceHost
from tests.fixtures.assessment import LMS_SOURCE, Scenario
from tests.fixtures.tokens import OPERATOR
from tests.fixtures.waiting import eventually
from tests.integration.test_assessment_flow import earned_for, processed

pytestmark = pytest.mark.integration


async def test_one_trace_links_lms_publish_consumer_and_outbox_publish(
    assessment: ServiceHost,
    producer: AIOKafkaProducer,
    watch: Any,
    spans: InMemorySpanExporter,
    db: Any,
) -> None:
    earned = await watch(ACHIEVEMENTS_EARNED.name)
    scenario, learner = Scenario(), Scenario.learner()
    d = scenario.definition()
    await publish_event(
        producer, ACHIEVEMENT_DEFINITIONS, d, key=d.achievement_id, source="urn:test:operator"
    )
    first = await publish_event(
        producer,
        ASSESSMENT_RESULTS,
        scenario.result(learner, 0, scaled=0.9),
        key=learner,
        source=LMS_SOURCE,
    )
    # The award must come from the traced result, not from the definition arriving last.
    await eventually(lambda: processed(db, first), what="first result processed")
    await eventually(lambda: _defined(db, scenario.achievement_id), what="definition processed")
    tracer = trace.get_tracer("tests.lms")
    with tracer.start_as_current_span("lms send result", kind=trace.SpanKind.PRODUCER) as lms_span:
        await publish_event(
            producer,
            ASSESSMENT_RESULTS,
            scenario.result(learner, 1, scaled=0.9),
            key=learner,
            source=LMS_SOURCE,
        )
    trace_id = lms_span.get_span_context().trace_id

    [record] = await earned.wait_for(earned_for(learner), timeout=30)
    traceparent = record.headers["traceparent"].decode()
    assert traceparent.split("-")[1] == f"{trace_id:032x}", "the earned record continues the LMS's trace"

    in_trace = [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id]
    by_name = {s.name: s for s in in_trace}
    consume = by_name[f"{ASSESSMENT_RESULTS.name} process"]
    publish = by_name[f"{ACHIEVEMENTS_EARNED.name} publish"]
    assert consume.parent is not None and consume.parent.span_id == lms_span.get_span_context().span_id
    assert publish.parent is not None and publish.parent.span_id == consume.context.span_id
    assert consume.kind == trace.SpanKind.CONSUMER and publish.kind == trace.SpanKind.PRODUCER
    # The next hop's consumer will be the child of this publish span.
    assert traceparent.split("-")[2] == f"{publish.context.span_id:016x}"


async def test_health_and_admin_endpoints(assessment: ServiceHost) -> None:
    port = assessment.settings.http_port
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        ready = await client.get("/health/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {
            "started": True,
            "database": True,
            "kafka": True,
            "outbox_relay": True,
        }

        missing = await client.get("/admin/achievements")
        assert missing.status_code == 401
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["status"] == 401 and "Bearer" in missing.json()["detail"]

        wrong = await client.get("/admin/achievements", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["content-type"] == "application/problem+json"

        listed = await client.get("/admin/achievements", headers=OPERATOR)
        assert listed.status_code == 200
        assert isinstance(listed.json(), list)


async def _defined(db: Any, achievement_id: str) -> bool:
    return bool(await db.fetchval("SELECT true FROM achievements WHERE achievement_id = $1", achievement_id))
