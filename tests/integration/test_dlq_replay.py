"""`credstream dlq list` / `dlq replay` on the real broker, database and assessment service.

Records from an LMS the assessment service does not know yet are dead-lettered (`lms_unknown`:
a missing precondition, not a bad record). The operator configures the LMS, then replays them:
they are applied exactly once and the learner earns the achievement once. Replaying again skips
them (the replay marker is found on the source topic); forcing a second replay sends them again
and the inbox drops them: still one earned fact.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from contracts.envelope import CE_ID, CloudEventAttributes
from contracts.topics import ACHIEVEMENT_DEFINITIONS, ACHIEVEMENTS_EARNED, LMS_XAPI, dead_letter_topic
from deploy.cli.dlq import REPLAYED_FROM
from deploy.local.runner import Stack
from deploy.tools.publish import publish_event
from services.assessment.app import create_app
from tests.fixtures.assessment import assessment_settings
from tests.fixtures.cli import credstream
from tests.fixtures.kafka import Seen
from tests.fixtures.lms import LmsScenario, LmsWorld
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration

WORLD = LmsWorld()


async def _send_statement(producer: AIOKafkaProducer, lms: LmsScenario, learner: str, activity: int) -> str:
    ce_id = str(uuid.uuid4())
    headers = CloudEventAttributes(
        id=ce_id, source=lms.source, type=LMS_XAPI.events[0].event_type
    ).to_headers()
    value = json.dumps(lms.statement(learner, activity, scaled=0.9)).encode()
    await producer.send_and_wait(
        LMS_XAPI.name, value=value, key=lms.xapi_learner(learner).encode(), headers=headers
    )
    return ce_id


async def test_dead_letters_of_a_missing_lms_are_replayed_once_after_the_fix(
    stack: Stack, producer: AIOKafkaProducer, watch: Any
) -> None:
    scenario, _ = WORLD.scenario()
    late = LmsScenario(WORLD.issuer_id, scenario.activities)  # not configured yet
    learner = f"learner-{uuid.uuid4().hex[:8]}"
    dlq = await watch(dead_letter_topic("assessment"))
    earned = await watch(ACHIEVEMENTS_EARNED.name)

    def ours(s: Seen) -> bool:
        return bool(s.json()["achievement_id"] == scenario.achievement_id)

    host = await create_app(assessment_settings(stack, lms_config=WORLD.config_json()))
    await host.start(serve_http=False)
    try:
        d = scenario.definition()
        await publish_event(
            producer, ACHIEVEMENT_DEFINITIONS, d, key=d.achievement_id, source="urn:test:operator"
        )
        ids = [await _send_statement(producer, late, learner, n) for n in range(2)]
        dead = await dlq.wait_for(lambda s: s.headers.get(CE_ID, b"").decode() in ids, count=2, timeout=60)
        assert [s.headers["dlq.reason"] for s in dead] == [b"lms_unknown"] * 2
    finally:
        await host.stop()

    listed = await credstream(
        stack, "--json", "dlq", "list", "--group", "assessment", "--id", ids[0], "--id", ids[1]
    )
    assert listed.exit_code == 0, listed.stderr
    assert sorted(d["event_id"] for d in listed.json()) == sorted(ids)
    assert {d["reason"] for d in listed.json()} == {"lms_unknown"}
    assert {d["source"].split(":")[0] for d in listed.json()} == {LMS_XAPI.name}

    # The fix: the LMS is configured. Then a dry run sends nothing.
    fixed = json.dumps(
        {"lms": json.loads(WORLD.config_json())["lms"] + json.loads(late.config_json())["lms"][:1]}
    )
    host = await create_app(assessment_settings(stack, lms_config=fixed))
    await host.start(serve_http=False)
    try:
        select = ["dlq", "replay", "--reason", "lms_unknown", "--id", ids[0], "--id", ids[1]]
        dry = await credstream(stack, "--json", *select, "--dry-run")
        assert dry.exit_code == 0, dry.stderr
        assert dry.json()["dry_run"] is True and len(dry.json()["replayed"]) == 2
        assert await earned.wait_for(ours, timeout=3) == []

        first = await credstream(stack, "--json", *select)
        assert first.exit_code == 0, first.stderr
        assert len(first.json()["replayed"]) == 2 and first.json()["skipped_already_replayed"] == []
        facts = await earned.wait_for(ours, timeout=60)
        assert len(facts) == 1 and facts[0].json()["learner"]["id"] == late.xapi_learner(learner)

        again = await credstream(stack, "--json", *select)
        assert again.exit_code == 0, again.stderr
        assert again.json()["replayed"] == [] and len(again.json()["skipped_already_replayed"]) == 2

        forced = await credstream(stack, "--json", *select, "--force")
        assert forced.exit_code == 0, forced.stderr
        assert len(forced.json()["replayed"]) == 2
        conn = await asyncpg.connect(stack.database_url())
        try:

            async def both_seen_twice() -> bool:
                n = await conn.fetchval(
                    "SELECT count(*) FROM assessment.results WHERE lms_id = $1", late.lms_id
                )
                return int(n) == 2

            await eventually(both_seen_twice, timeout=30, what="the replayed results stored once each")
            inbox = await conn.fetchval("SELECT count(*) FROM assessment.inbox WHERE event_id = ANY($1)", ids)
        finally:
            await conn.close()
        assert inbox == 2, "each replayed record applied once"
        assert len(await earned.wait_for(ours, count=2, timeout=5)) == 1, "no second earned fact"
        assert await dlq.wait_for(lambda s: REPLAYED_FROM in s.headers, timeout=1) == []
    finally:
        await host.stop()
