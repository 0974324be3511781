"""The assessment service on the real broker and database: earned once, duplicates, re-takes,
failures and dead letters."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from contracts.envelope import CloudEventAttributes
from contracts.topics import (
    ACHIEVEMENT_DEFINITIONS,
    ACHIEVEMENTS_EARNED,
    ASSESSMENT_RESULTS,
    dead_letter_topic,
)
from deploy.tools.publish import event_record, publish_event
from services.runtime.process import ServiceHost
from tests.fixtures.assessment import LMS_SOURCE, Scenario
from tests.fixtures.kafka import Seen
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration


async def define(producer: AIOKafkaProducer, scenario: Scenario) -> None:
    d = scenario.definition()
    await publish_event(
        producer,
        ACHIEVEMENT_DEFINITIONS,
        d,
        key=d.achievement_id,
        source="urn:credstream:test:operator",
    )


def earned_for(learner_id: str) -> Any:
    def match(s: Seen) -> bool:
        return s.value is not None and json.loads(s.value)["learner"]["id"] == learner_id

    return match


async def processed(db: asyncpg.Connection, event_id: str) -> bool:
    return bool(await db.fetchval("SELECT true FROM inbox WHERE event_id = $1", event_id))


async def test_passing_results_emit_exactly_one_achievement_earned(
    assessment: ServiceHost, producer: AIOKafkaProducer, watch: Any
) -> None:
    earned = await watch(ACHIEVEMENTS_EARNED.name)
    scenario, learner = Scenario(), Scenario.learner()
    await define(producer, scenario)
    for activity, scaled in ((0, 0.7), (1, 0.95)):
        await publish_event(
            producer,
            ASSESSMENT_RESULTS,
            scenario.result(learner, activity, scaled=scaled),
            key=learner,
            source=LMS_SOURCE,
        )
    records = await earned.wait_for(earned_for(learner), count=1, timeout=30, settle=2.0)
    assert len(records) == 1
    body = records[0].json()
    assert body["achievement_id"] == scenario.achievement_id
    assert body["issuer_id"] == scenario.issuer_id
    assert sorted(e["activity_id"] for e in body["evidence"]) == sorted(scenario.activities)
    assert records[0].headers["ce_type"] == b"credstream.achievement.earned"
    assert records[0].headers["ce_id"].decode() == body["earned_id"]
    assert records[0].key == body["earned_id"].encode()


async def test_duplicates_and_retakes_still_emit_one(
    assessment: ServiceHost, producer: AIOKafkaProducer, watch: Any, db: asyncpg.Connection
) -> None:
    earned = await watch(ACHIEVEMENTS_EARNED.name)
    scenario, learner = Scenario(), Scenario.learner()
    await define(producer, scenario)
    quiz = scenario.result(learner, 0, scaled=0.8)
    exam = scenario.result(learner, 1, scaled=0.9)
    exam_id = str(uuid.uuid4())
    await publish_event(producer, ASSESSMENT_RESULTS, quiz, key=learner, source=LMS_SOURCE)
    # The same CloudEvent twice (a producer retry), and the same result under a new event id.
    await publish_event(producer, ASSESSMENT_RESULTS, exam, key=learner, source=LMS_SOURCE, event_id=exam_id)
    await publish_event(producer, ASSESSMENT_RESULTS, exam, key=learner, source=LMS_SOURCE, event_id=exam_id)
    await publish_event(producer, ASSESSMENT_RESULTS, exam, key=learner, source=LMS_SOURCE)
    # A re-take that passes again, with a better score.
    retake_id = str(uuid.uuid4())
    await publish_event(
        producer,
        ASSESSMENT_RESULTS,
        scenario.result(learner, 1, scaled=1.0),
        key=learner,
        source=LMS_SOURCE,
        event_id=retake_id,
    )
    await eventually(lambda: processed(db, retake_id), what="re-take processed")
    records = await earned.wait_for(earned_for(learner), count=2, timeout=3, settle=1.0)
    assert len(records) == 1
    assert await db.fetchval("SELECT count(*) FROM results WHERE learner_id = $1", learner) == 3
    assert await db.fetchval("SELECT count(*) FROM earned WHERE learner_id = $1", learner) == 1


async def test_failing_result_emits_nothing(
    assessment: ServiceHost, producer: AIOKafkaProducer, watch: Any, db: asyncpg.Connection
) -> None:
    earned = await watch(ACHIEVEMENTS_EARNED.name)
    scenario, learner = Scenario(), Scenario.learner()
    await define(producer, scenario)
    await publish_event(
        producer,
        ASSESSMENT_RESULTS,
        scenario.result(learner, 0, scaled=0.9),
        key=learner,
        source=LMS_SOURCE,
    )
    last = await publish_event(
        producer,
        ASSESSMENT_RESULTS,
        scenario.result(learner, 1, scaled=0.4, success=False),
        key=learner,
        source=LMS_SOURCE,
    )
    await eventually(lambda: processed(db, last), what="failing result processed")
    assert await db.fetchval("SELECT count(*) FROM earned WHERE learner_id = $1", learner) == 0
    assert await earned.wait_for(earned_for(learner), timeout=2) == []


async def test_results_before_definition_are_awarded_when_it_arrives(
    assessment: ServiceHost, producer: AIOKafkaProducer, watch: Any, db: asyncpg.Connection
) -> None:
    earned = await watch(ACHIEVEMENTS_EARNED.name)
    scenario, learner = Scenario(), Scenario.learner()
    for activity in (0, 1):
        last = await publish_event(
            producer,
            ASSESSMENT_RESULTS,
            scenario.result(learner, activity, scaled=0.75),
            key=learner,
            source=LMS_SOURCE,
        )
    await eventually(lambda: processed(db, last), what="results processed")
    assert await db.fetchval("SELECT count(*) FROM earned WHERE learner_id = $1", learner) == 0
    await define(producer, scenario)
    assert len(await earned.wait_for(earned_for(learner), timeout=30, settle=1.0)) == 1


async def test_bad_records_go_to_the_dead_letter_topic_and_valid_ones_behind_them_are_processed(
    assessment: ServiceHost, producer: AIOKafkaProducer, watch: Any
) -> None:
    dlq = await watch(dead_letter_topic("assessment"))
    earned = await watch(ACHIEVEMENTS_EARNED.name)
    scenario, learner = Scenario(), Scenario.learner()
    await define(producer, scenario)
    good = scenario.result(learner, 0, scaled=0.9)
    value, _headers = event_record(good, source=LMS_SOURCE)
    marker = uuid.uuid4().hex

    def attrs(type_: str = good.event_type) -> list[tuple[str, bytes]]:
        return CloudEventAttributes(id=f"{marker}-{uuid.uuid4()}", source=LMS_SOURCE, type=type_).to_headers()

    wrong_type = json.loads(value)
    wrong_type["score"] = {"scaled": "high"}
    missing = json.loads(value)
    del missing["learner"]
    bad = [
        (b'{"result_id": "r1", "issuer_id": ', attrs(), "malformed_json"),
        (json.dumps(wrong_type).encode(), attrs(), "schema_invalid"),
        (json.dumps(missing).encode(), attrs(), "schema_invalid"),
        (value, attrs("credstream.assessment.result.teleported"), "unknown_event_type"),
        (value, [h for h in attrs() if h[0] != "ce_source"], "envelope_invalid"),
        (value, [(n, b"\xff\xfe" if n == "ce_id" else v) for n, v in attrs()], "envelope_invalid"),
    ]
    # Same key, so the same partition: the valid records queue behind the bad ones.
    for payload, hdrs, _ in bad:
        await producer.send_and_wait(
            ASSESSMENT_RESULTS.name, value=payload, key=learner.encode(), headers=hdrs
        )
    await publish_event(producer, ASSESSMENT_RESULTS, good, key=learner, source=LMS_SOURCE)
    # A valid record may carry other headers that are not text (Kafka headers are bytes); they
    # must neither refuse it nor stall the consumer (FastStream's own parser would fail on them).
    last_value, last_headers = event_record(scenario.result(learner, 1, scaled=0.9), source=LMS_SOURCE)
    await producer.send_and_wait(
        ASSESSMENT_RESULTS.name,
        value=last_value,
        key=learner.encode(),
        headers=[*last_headers, ("x-lms-signature", b"\xff\x00\xfe")],
    )

    assert len(await earned.wait_for(earned_for(learner), timeout=30)) == 1
    letters = await dlq.wait_for(lambda s: s.key == learner.encode(), count=len(bad), timeout=30)
    assert [s.headers["dlq.reason"].decode() for s in letters] == [reason for *_, reason in bad]
    for letter, (payload, hdrs, _) in zip(letters, bad, strict=True):
        assert letter.value == payload  # the original bytes, untouched
        for name, raw in hdrs:
            assert letter.headers[name] == raw  # and the original headers
        assert letter.headers["dlq.source_topic"] == ASSESSMENT_RESULTS.name.encode()
        assert letter.headers["dlq.consumer_group"] == b"assessment"
        assert letter.headers["dlq.error_message"]
    wrong = letters[1].headers["dlq.error_message"].decode()
    assert "score.scaled" in wrong and "number" in wrong
    assert "learner" in letters[2].headers["dlq.error_message"].decode()
