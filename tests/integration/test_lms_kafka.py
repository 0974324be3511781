"""xAPI, Caliper and LTI AGS payloads on their Kafka topics, through the real broker and
database: one achievement.earned for a pass, none for a fail or a duplicate, dead letters with a
precise reason for invalid or unauthorised records, and valid records behind them processed."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from contracts.envelope import CloudEventAttributes
from contracts.topics import (
    ACHIEVEMENT_DEFINITIONS,
    ACHIEVEMENTS_EARNED,
    LMS_CALIPER,
    LMS_LTI_SCORES,
    LMS_XAPI,
    Topic,
    dead_letter_topic,
)
from deploy.local.runner import Stack
from deploy.tools.publish import publish_event
from services.assessment.app import create_app
from services.runtime.process import ServiceHost
from tests.fixtures.assessment import Scenario, assessment_settings
from tests.fixtures.kafka import Seen
from tests.fixtures.lms import LmsWorld
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration

WORLD = LmsWorld()


@pytest.fixture(scope="module")
async def lms_assessment(stack: Stack) -> AsyncIterator[ServiceHost]:
    host = await create_app(assessment_settings(stack, lms_config=WORLD.config_json()))
    await host.start(serve_http=False)
    yield host
    await host.stop()


async def define(producer: AIOKafkaProducer, scenario: Scenario) -> None:
    d = scenario.definition()
    await publish_event(
        producer, ACHIEVEMENT_DEFINITIONS, d, key=d.achievement_id, source="urn:credstream:test:operator"
    )


async def send(
    producer: AIOKafkaProducer,
    topic: Topic,
    payload: Any,
    *,
    key: str,
    source: str,
    subject: str | None = None,
    event_id: str | None = None,
) -> str:
    """A foreign payload as the record value, CloudEvents attributes naming the LMS as headers."""
    ce_id = event_id or str(uuid.uuid4())
    headers = CloudEventAttributes(
        id=ce_id, source=source, type=topic.events[0].event_type, subject=subject
    ).to_headers()
    value = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    await producer.send_and_wait(topic.name, value=value, key=key.encode(), headers=headers)
    return ce_id


def earned_for(learner_id: str) -> Any:
    def match(s: Seen) -> bool:
        return s.value is not None and json.loads(s.value)["learner"]["id"] == learner_id

    return match


async def processed(db: asyncpg.Connection, event_id: str) -> bool:
    return bool(await db.fetchval("SELECT true FROM inbox WHERE event_id = $1", event_id))


async def test_xapi_pass_earns_once_and_fail_or_duplicate_earn_nothing(
    lms_assessment: ServiceHost, producer: AIOKafkaProducer, watch: Any, db: asyncpg.Connection
) -> None:
    earned = await watch(ACHIEVEMENTS_EARNED.name)
    scenario, lms = WORLD.scenario()
    await define(producer, scenario)
    passer, failer = Scenario.learner(), Scenario.learner()
    passer_ref, failer_ref = lms.xapi_learner(passer), lms.xapi_learner(failer)
    quiz = lms.statement(passer, 0, scaled=0.8)
    quiz["x-vendor-field"] = {"unknown": True}  # extra unknown fields are tolerated
    exam = lms.statement(passer, 1, scaled=0.9)
    await send(producer, LMS_XAPI, quiz, key=passer_ref, source=lms.source)
    await send(producer, LMS_XAPI, exam, key=passer_ref, source=lms.source)
    # The same statement again under a new CloudEvents id: its statement id makes it one result.
    dup = await send(producer, LMS_XAPI, exam, key=passer_ref, source=lms.source)
    await send(producer, LMS_XAPI, lms.statement(failer, 0, scaled=0.9), key=failer_ref, source=lms.source)
    last = await send(
        producer,
        LMS_XAPI,
        lms.statement(failer, 1, verb="failed", scaled=0.3),
        key=failer_ref,
        source=lms.source,
    )
    await eventually(lambda: processed(db, dup), what="duplicate processed")
    await eventually(lambda: processed(db, last), what="failure processed")

    records = await earned.wait_for(earned_for(passer_ref), count=1, timeout=30, settle=2.0)
    assert len(records) == 1
    body = records[0].json()
    assert body["issuer_id"] == WORLD.issuer_id and body["achievement_id"] == scenario.achievement_id
    assert body["learner"]["email"] == f"{passer}@learners.test"
    rows = await db.fetch(
        "SELECT result_id, source_format, lms_id, raw FROM results WHERE learner_id = $1 ORDER BY id",
        passer_ref,
    )
    assert [r["result_id"] for r in rows] == [f"xapi:{quiz['id']}", f"xapi:{exam['id']}"]
    assert {r["source_format"] for r in rows} == {"xapi"} and {r["lms_id"] for r in rows} == {lms.lms_id}
    assert json.loads(rows[0]["raw"]) == quiz  # the statement kept as received
    assert await earned.wait_for(earned_for(failer_ref), timeout=1) == []
    assert await db.fetchval("SELECT count(*) FROM earned WHERE learner_id = $1", failer_ref) == 0


async def test_caliper_grade_events_earn_once_and_a_low_score_earns_nothing(
    lms_assessment: ServiceHost, producer: AIOKafkaProducer, watch: Any, db: asyncpg.Connection
) -> None:
    earned = await watch(ACHIEVEMENTS_EARNED.name)
    scenario, lms = WORLD.scenario()
    await define(producer, scenario)
    passer, failer = Scenario.learner(), Scenario.learner()
    quiz_event = lms.grade_event(passer, 0, given=70, v1p1=True)
    envelope_1 = lms.caliper_envelope([quiz_event], v1p1=True)  # Caliper 1.1, normalScore
    navigation = {"id": f"urn:uuid:{uuid.uuid4()}", "type": "NavigationEvent", "action": "NavigatedTo"}
    envelope_2 = lms.caliper_envelope([navigation, lms.grade_event(passer, 1, given=85, maximum=100)])
    key = lms.caliper_learner(passer)
    await send(producer, LMS_CALIPER, envelope_1, key=key, source=lms.source)
    await send(producer, LMS_CALIPER, envelope_2, key=key, source=lms.source)
    dup = await send(producer, LMS_CALIPER, envelope_2, key=key, source=lms.source)  # re-sent envelope
    low = lms.caliper_envelope([lms.grade_event(failer, 0, given=90), lms.grade_event(failer, 1, given=40)])
    last = await send(producer, LMS_CALIPER, low, key=lms.caliper_learner(failer), source=lms.source)
    await eventually(lambda: processed(db, dup), what="duplicate processed")
    await eventually(lambda: processed(db, last), what="low score processed")

    assert len(await earned.wait_for(earned_for(key), count=1, timeout=30, settle=2.0)) == 1
    formats = await db.fetch("SELECT source_format FROM results WHERE learner_id = $1 ORDER BY id", key)
    assert [r["source_format"] for r in formats] == ["caliper-1.1", "caliper-1.2"]
    assert await earned.wait_for(earned_for(lms.caliper_learner(failer)), timeout=1) == []


async def test_lti_fully_graded_scores_earn_once_and_pending_ones_count_for_nothing(
    lms_assessment: ServiceHost, producer: AIOKafkaProducer, watch: Any, db: asyncpg.Connection
) -> None:
    earned = await watch(ACHIEVEMENTS_EARNED.name)
    scenario, lms = WORLD.scenario()
    await define(producer, scenario)
    user = str(uuid.uuid4())
    learner = f"lti:{user}"
    quiz, exam = scenario.activities
    # A pending grade of the exam first: valid, but not final, so no result.
    pending = await send(
        producer,
        LMS_LTI_SCORES,
        lms.lti_score(user, given=95, grading="PendingManual"),
        key=user,
        source=lms.source,
        subject=exam,
    )
    await eventually(lambda: processed(db, pending), what="pending score processed")
    assert await db.fetchval("SELECT count(*) FROM results WHERE learner_id = $1", learner) == 0
    await send(
        producer, LMS_LTI_SCORES, lms.lti_score(user, given=61), key=user, source=lms.source, subject=quiz
    )
    final = lms.lti_score(user, given=95)
    await send(producer, LMS_LTI_SCORES, final, key=user, source=lms.source, subject=exam)
    dup = await send(producer, LMS_LTI_SCORES, final, key=user, source=lms.source, subject=exam)
    await eventually(lambda: processed(db, dup), what="duplicate processed")
    assert len(await earned.wait_for(earned_for(learner), count=1, timeout=30, settle=2.0)) == 1
    assert await db.fetchval("SELECT count(*) FROM results WHERE learner_id = $1", learner) == 2


async def test_invalid_and_unauthorised_lms_records_are_dead_lettered_with_a_reason(
    lms_assessment: ServiceHost, producer: AIOKafkaProducer, watch: Any
) -> None:
    dlq = await watch(dead_letter_topic("assessment"))
    earned = await watch(ACHIEVEMENTS_EARNED.name)
    scenario, lms = WORLD.scenario()
    await define(producer, scenario)
    learner = Scenario.learner()
    key = lms.xapi_learner(learner)
    no_actor = lms.statement(learner, 0)
    del no_actor["actor"]
    wrong_type = lms.statement(learner, 0)
    wrong_type["result"]["score"]["scaled"] = "0.9"
    no_max = lms.caliper_envelope([lms.grade_event(learner, 0, given=70)])
    del no_max["data"][0]["generated"]["maxScore"]
    del no_max["data"][0]["object"]["assignable"]["maxScore"]
    lti_wrong = lms.lti_score(learner, given=80)
    lti_wrong["scoreGiven"] = "80"
    bad: list[tuple[Topic, Any, str, dict[str, Any], str]] = [
        (LMS_XAPI, b'{"actor": {"mbox": ', lms.source, {}, "malformed_json"),
        (LMS_XAPI, no_actor, lms.source, {}, "missing_field"),
        (LMS_XAPI, wrong_type, lms.source, {}, "wrong_type"),
        (LMS_XAPI, lms.statement(learner, 0, verb="experienced"), lms.source, {}, "verb_unsupported"),
        (LMS_XAPI, lms.statement(learner, 0), "https://unknown-lms.test", {}, "lms_unknown"),
        (LMS_CALIPER, no_max, lms.source, {}, "missing_field"),
        (LMS_LTI_SCORES, lti_wrong, lms.source, {"subject": scenario.activities[0]}, "wrong_type"),
        (LMS_LTI_SCORES, lms.lti_score(learner, given=80), lms.source, {}, "missing_field"),
    ]
    # One key, so each topic's bad records sit on the partition ahead of the valid ones.
    for topic, payload, source, extra, _ in bad:
        await send(producer, topic, payload, key=key, source=source, **extra)
    await send(producer, LMS_XAPI, lms.statement(learner, 0, scaled=0.9), key=key, source=lms.source)
    await send(producer, LMS_XAPI, lms.statement(learner, 1, scaled=0.9), key=key, source=lms.source)

    assert len(await earned.wait_for(earned_for(key), timeout=30)) == 1
    letters = await dlq.wait_for(lambda s: s.key == key.encode(), count=len(bad), timeout=30, settle=1.0)
    assert len(letters) == len(bad)
    by_topic: dict[str, list[str]] = {}
    for letter in letters:
        by_topic.setdefault(letter.headers["dlq.source_topic"].decode(), []).append(
            letter.headers["dlq.reason"].decode()
        )
    for topic in (LMS_XAPI, LMS_CALIPER, LMS_LTI_SCORES):
        assert by_topic[topic.name] == [
            reason for t, *_, reason in bad if t is topic
        ]  # in order, per partition
    messages = {letter.headers["dlq.error_message"].decode() for letter in letters}
    assert any("actor is required" in m for m in messages)
    assert any("result.score.scaled" in m for m in messages)
    assert any("maxScore" in m for m in messages)
    assert any("ce_subject" in m for m in messages)
    assert any("unknown-lms.test" in m for m in messages)


async def test_one_learner_across_formats_earns_once_through_the_identity_mapping(
    lms_assessment: ServiceHost, producer: AIOKafkaProducer, watch: Any, db: asyncpg.Connection
) -> None:
    """The quiz arrives as an xAPI statement (e-mail), the exam as a Caliper GradeEvent (person
    IRI) and again as an LTI score (`sub`): the LMS's mapping makes them one learner."""
    earned = await watch(ACHIEVEMENTS_EARNED.name)
    scenario, lms = WORLD.scenario()
    await define(producer, scenario)
    name, learner = WORLD.mapped_name, WORLD.mapped_learner
    await send(producer, LMS_XAPI, lms.statement(name, 0, scaled=0.7), key=learner, source=lms.source)
    last = await send(
        producer,
        LMS_CALIPER,
        lms.caliper_envelope([lms.grade_event(name, 1, given=80)]),
        key=learner,
        source=lms.source,
    )
    await eventually(lambda: processed(db, last), what="Caliper exam processed")
    records = await earned.wait_for(earned_for(learner), timeout=30, settle=1.0)
    assert len(records) == 1 and records[0].json()["achievement_id"] == scenario.achievement_id
    lti = await send(
        producer,
        LMS_LTI_SCORES,
        lms.lti_score(WORLD.mapped_sub, given=90),
        key=learner,
        source=lms.source,
        subject=scenario.activities[1],
    )
    await eventually(lambda: processed(db, lti), what="LTI score processed")
    formats = await db.fetch(
        "SELECT source_format FROM results WHERE learner_id = $1 AND activity_id = ANY($2::text[])",
        learner,
        list(scenario.activities),
    )
    # Three topics, so no order among them.
    assert sorted(r["source_format"] for r in formats) == ["caliper-1.2", "lti-ags", "xapi"]
    assert len(await earned.wait_for(earned_for(learner), timeout=1, settle=1.0)) == 1
