"""A mixed-format simulator stream (credstream's contract, xAPI, Caliper and LTI AGS, one format
per learner) through the real broker, database and assessment service, configured with an LMS
for the test issuer as in test_lms_kafka.py: the earned (learner, achievement) pairs are exactly
the expected ones, and every malformed record, and only those, is dead-lettered."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from contracts.envelope import CE_ID
from contracts.topics import ACHIEVEMENT_DEFINITIONS, ACHIEVEMENTS_EARNED, dead_letter_topic
from contracts.v1.assessment import AchievementCriteria, AchievementDefined
from deploy.cli.formats import FORMATS, LmsTarget, encoders
from deploy.cli.simulator import AchievementRule, plan
from deploy.cli.streams import RunObserver, publish_plan
from deploy.local.runner import Stack
from deploy.tools.publish import publish_event
from services.assessment.app import create_app
from services.runtime.process import ServiceHost
from tests.fixtures.assessment import assessment_settings
from tests.fixtures.kafka import LMS_PRINCIPAL, Seen
from tests.fixtures.lms import LmsWorld

pytestmark = pytest.mark.integration

WORLD = LmsWorld()


@pytest.fixture(scope="module")
async def lms_assessment(stack: Stack) -> AsyncIterator[ServiceHost]:
    host = await create_app(assessment_settings(stack, lms_config=WORLD.config_json()))
    await host.start(serve_http=False)
    yield host
    await host.stop()


async def test_a_mixed_format_stream_ends_with_the_counts_it_generated(
    stack: Stack, lms_assessment: ServiceHost, producer: AIOKafkaProducer, watch: Any
) -> None:
    scenario, _ = WORLD.scenario()  # two activities at 60 %
    project = f"{scenario.issuer_id}/activities/{uuid.uuid4().hex[:8]}/project"
    definitions = [
        scenario.definition(),
        AchievementDefined(
            achievement_id=f"{scenario.achievement_id}-project",
            issuer_id=scenario.issuer_id,
            revision=1,
            name="Project",
            criteria=AchievementCriteria(required_activity_ids=[project], require_success=True),
        ),
    ]
    for d in definitions:
        await publish_event(
            producer, ACHIEVEMENT_DEFINITIONS, d, key=d.achievement_id, source="urn:credstream:test:operator"
        )
    rules = [
        AchievementRule.from_definition(d.model_dump(mode="json", exclude_none=True)) for d in definitions
    ]
    lms = LmsTarget.for_issuer(json.loads(WORLD.config_json()), WORLD.issuer_id)
    assert lms is not None
    run_id = uuid.uuid4().hex[:8]
    simulation = plan(
        rules, learners=40, run_id=run_id, seed=7, duplicate_rate=0.1, malformed_rate=0.05,
        encoders=encoders(FORMATS, lms),
    )  # fmt: skip
    formats = simulation.summary()["formats"]
    assert set(formats) == set(FORMATS) and all(f["learners"] == 10 for f in formats.values())
    assert simulation.expected_dlq >= 3 and simulation.counts["duplicates"] > 0

    learners = set(simulation.learners)
    earned = await watch(ACHIEVEMENTS_EARNED.name)
    dlq = await watch(dead_letter_topic("assessment"))
    observer = await RunObserver(stack.kafka(), simulation).start()
    try:
        await publish_plan(simulation, stack.kafka(LMS_PRINCIPAL))
        observed = await observer.until_settled(simulation, within_s=120, settle_s=3)
    finally:
        await observer.stop()
    assert observed.earned == simulation.expected_earned
    assert observed.earned_events == len(simulation.expected_earned)
    assert observed.dlq == simulation.expected_dlq

    # Counted again here, independently of the CLI's observer.
    def ours(s: Seen) -> bool:
        return s.json()["learner"]["id"] in learners

    records = await earned.wait_for(ours, count=len(simulation.expected_earned), timeout=30, settle=1)
    pairs = {(s.json()["learner"]["id"], s.json()["achievement_id"]) for s in records}
    assert len(records) == len(pairs) and pairs == simulation.expected_earned
    # Every format earned something, under the learner reference the platform derived from it.
    by_ref = {simulation.learner_refs[lid]: f for lid, f in simulation.learner_formats.items()}
    assert {by_ref[learner] for learner, _ in pairs} == set(FORMATS)
    dead = await dlq.wait_for(
        lambda s: s.headers.get(CE_ID, b"").startswith(f"{run_id}-".encode()),
        count=simulation.expected_dlq,
        settle=1,
    )
    assert len(dead) == simulation.expected_dlq
    assert {s.headers["dlq.reason"] for s in dead} >= {b"malformed_json", b"missing_field", b"wrong_type"}
