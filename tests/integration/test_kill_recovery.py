"""SIGKILL the assessment service between its database commit and its publish; after a restart
exactly one achievement.earned leaves (the transactional outbox at work)."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from contracts.topics import ACHIEVEMENT_DEFINITIONS, ACHIEVEMENTS_EARNED, ASSESSMENT_RESULTS
from deploy.local.runner import Stack
from deploy.tools.publish import publish_event
from tests.fixtures.assessment import LMS_SOURCE, Scenario
from tests.fixtures.process import ServiceProcess
from tests.fixtures.waiting import eventually
from tests.integration.test_assessment_flow import earned_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def service(stack: Stack, tmp_path: Path) -> Iterator[ServiceProcess]:
    svc = ServiceProcess(stack, "assessment", tmp_path / "assessment.log")
    yield svc
    svc.stop()


async def earned_rows(db: asyncpg.Connection, learner: str) -> int:
    return int(await db.fetchval("SELECT count(*) FROM assessment.earned WHERE learner_id = $1", learner))


async def unpublished(db: asyncpg.Connection, learner: str) -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM assessment.outbox WHERE published_at IS NULL "
            "AND convert_from(payload, 'UTF8')::jsonb -> 'learner' ->> 'id' = $1",
            learner,
        )
    )


@pytest.mark.parametrize("crash_point", ["relay.before_publish", "relay.after_publish"])
async def test_sigkill_between_commit_and_publish_yields_one_achievement_earned(
    crash_point: str, stack: Stack, service: ServiceProcess, producer: AIOKafkaProducer, watch: Any
) -> None:
    earned = await watch(ACHIEVEMENTS_EARNED.name)
    db = await asyncpg.connect(stack.database_url("assessment"))
    try:
        scenario, learner = Scenario(), Scenario.learner()
        service.start(ASSESSMENT_FAULT_INJECTION=crash_point)
        await service.ready()
        d = scenario.definition()
        await publish_event(
            producer, ACHIEVEMENT_DEFINITIONS, d, key=d.achievement_id, source="urn:test:operator"
        )
        for activity in (0, 1):
            await publish_event(
                producer,
                ASSESSMENT_RESULTS,
                scenario.result(learner, activity, scaled=0.8),
                key=learner,
                source=LMS_SOURCE,
            )
        assert service.proc is not None
        # The relay reaches the crash point with the first batch it holds (older test rows may
        # be in it too); the process dies by its own SIGKILL.
        returncode = await service.exited(60)
        assert returncode == -signal.SIGKILL, service.log.read_text()[-2000:]
        assert await earned_rows(db, learner) == 1, "the award was committed before the crash"
        assert await unpublished(db, learner) == 1, "its outbox row was not marked published"
        before = await earned.wait_for(earned_for(learner), timeout=2)
        assert len(before) == (0 if crash_point == "relay.before_publish" else 1)

        service.start()  # no fault this time
        await service.ready()
        await eventually(lambda: _zero(unpublished(db, learner)), timeout=60, what="outbox drained")
        records = await earned.wait_for(earned_for(learner), count=len(before) + 1, timeout=30, settle=2.0)
        ids = {r.headers["ce_id"] for r in records}
        assert len(ids) == 1, "every copy is the same event (same ce_id): consumers dedupe it"
        if crash_point == "relay.before_publish":
            assert len(records) == 1, "exactly one achievement.earned after the restart"
        else:
            # Published, then killed before marking: the row is published again, with the same
            # id, which the consumer's inbox absorbs (at least once + idempotent consumer).
            assert len(records) == 2
        assert json.loads(records[0].value or b"{}")["achievement_id"] == scenario.achievement_id
        assert await earned_rows(db, learner) == 1
    finally:
        await db.close()


async def _zero(count: Any) -> bool:
    return bool(await count == 0)
