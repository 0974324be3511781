"""Poison messages and transient faults in the consumer pipeline, on the real broker and database.

The pipeline (services/runtime/messaging.py) runs here with a handler of the test's own: it fails
on every attempt for the poison records and records when it applied the others. So the test sees
the real retries, back-off, dead-letter write and offset handling, and controls which record is
poison.

- A record that fails on every attempt is dead-lettered after exactly `retry_attempts` attempts;
  its partition is held for the documented bound (docs/operations.md: the back-off pauses, plus
  the attempts and the dead-letter write) and the valid records behind it on the same partition
  are then applied, in order.
- PostgreSQL stopped while records flow: the records are retried, never dead-lettered, and every
  one is applied once when the database is back.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faststream.kafka import KafkaBroker

from contracts.envelope import CE_ID
from contracts.topics import ASSESSMENT_RESULTS, dead_letter_topic
from deploy.local import runner
from deploy.tools.publish import publish_event
from services.assessment.app import MIGRATIONS as ASSESSMENT_MIGRATIONS
from services.assessment.settings import Settings
from services.runtime.messaging import ConsumerPipeline, InboundEvent, poison_backoff_s, subscribe
from services.runtime.process import assemble_host
from tests.fixtures.assessment import LMS_SOURCE, Scenario, assessment_settings
from tests.fixtures.kafka import Seen
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration

DLQ = dead_letter_topic("assessment")


@dataclass
class Recorder:
    """The test's handler: poison ids fail every time; the others are applied and timed."""

    poison: set[str] = field(default_factory=set)
    attempts: dict[str, list[float]] = field(default_factory=dict)
    applied: list[tuple[str, float]] = field(default_factory=list)

    async def __call__(self, inbound: InboundEvent[Any], conn: asyncpg.Connection) -> None:
        event_id = inbound.attributes.id
        self.attempts.setdefault(event_id, []).append(time.monotonic())
        if event_id in self.poison:
            raise RuntimeError(f"cannot process {event_id} (a bug the record triggers)")
        await conn.execute("SELECT 1")
        self.applied.append((event_id, time.monotonic()))


@dataclass
class Pipeline:
    settings: Settings
    recorder: Recorder
    group: str


async def _start_at_end(stack: runner.Stack, group: str) -> None:
    """Commit the group's offsets at the topic's end: the pipeline sees only this test's records."""
    consumer = AIOKafkaConsumer(
        **stack.kafka_admin().client_options(), group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition(ASSESSMENT_RESULTS.name, p) for p in range(ASSESSMENT_RESULTS.partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.commit({tp: ends[tp] for tp in tps})
    finally:
        await consumer.stop()


@pytest.fixture
async def pipeline(stack: runner.Stack) -> AsyncIterator[Pipeline]:
    group = f"poison-test-{uuid.uuid4().hex[:8]}"
    admin = stack.kafka_admin()  # a consumer group of its own, which only the super user may use
    settings = assessment_settings(
        stack,
        consumer_group=group,
        kafka_username=admin.username,
        kafka_password=admin.password,
        retry_attempts=4,
        retry_backoff_s=0.4,
        retry_backoff_max_s=1.0,
        # One record per poll: the one-by-one rules, whose bound this test measures. In a batch a
        # poison record costs one attempt more (the batch's, rolled back) before these.
        consumer_max_poll_records=1,
    )
    await _start_at_end(stack, group)
    recorder = Recorder()

    def register(broker: KafkaBroker, consumer: ConsumerPipeline) -> None:
        subscribe(broker, consumer, [(ASSESSMENT_RESULTS, recorder)], settings=settings)

    # The real host wiring (pool, producer, dead letters, broker, migrations) with our handler.
    host = await assemble_host(settings, migrations=ASSESSMENT_MIGRATIONS, register=register)
    await host.start(serve_http=False)
    yield Pipeline(settings, recorder, group)
    await host.stop()


async def _publish(producer: AIOKafkaProducer, scenario: Scenario, learner: str, n: int) -> str:
    result = scenario.result(learner, 0, scaled=0.9, result_id=f"{learner}-{n}")
    return await publish_event(producer, ASSESSMENT_RESULTS, result, key=learner, source=LMS_SOURCE)


async def test_a_poison_record_is_dead_lettered_after_bounded_retries_and_the_partition_moves_on(
    pipeline: Pipeline, producer: AIOKafkaProducer, watch: Any
) -> None:
    dlq = await watch(DLQ)
    scenario = Scenario()
    learner = f"learner-{uuid.uuid4().hex[:8]}"  # one key: one partition, in this order
    before = [await _publish(producer, scenario, learner, n) for n in range(2)]
    poison = await _publish(producer, scenario, learner, 2)
    pipeline.recorder.poison.add(poison)
    behind = [await _publish(producer, scenario, learner, n) for n in range(3, 8)]

    async def all_applied() -> bool:
        return len(pipeline.recorder.applied) == len(before) + len(behind)

    await eventually(all_applied, timeout=60, what="the valid records around the poison applied")
    dead = await dlq.wait_for(lambda s: s.headers.get(CE_ID) == poison.encode(), timeout=30, settle=1)

    assert [event_id for event_id, _ in pipeline.recorder.applied] == before + behind, "in order, once"
    assert len(dead) == 1 and dead[0].headers["dlq.reason"] == b"processing_failed"
    assert dead[0].headers["dlq.consumer_group"] == pipeline.group.encode()
    attempts = pipeline.recorder.attempts[poison]
    assert len(attempts) == pipeline.settings.retry_attempts == 4
    # The documented bound: back-off pauses 0.4 + 0.8 + 1.0 (capped) = 2.2 s between the attempts.
    backoff = poison_backoff_s(pipeline.settings)
    assert backoff == pytest.approx(2.2)
    assert attempts[-1] - attempts[0] == pytest.approx(backoff, abs=0.5), "the pauses really happened"
    first_behind = next(t for event_id, t in pipeline.recorder.applied if event_id == behind[0])
    held = first_behind - attempts[0]
    # The attempts are instant here, so the partition is held for the back-off plus one
    # dead-letter write and one transaction (allow 1.5 s for those on a shared 2-core machine).
    assert backoff <= held <= backoff + 1.5, f"partition held {held:.2f} s"


async def test_postgres_down_while_records_flow_is_retried_and_never_dead_lettered(
    stack: runner.Stack,
    pipeline: Pipeline,
    producer: AIOKafkaProducer,
    watch: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    dlq = await watch(DLQ)
    scenario = Scenario()
    learners = [f"learner-{uuid.uuid4().hex[:8]}" for _ in range(6)]
    sent = [await _publish(producer, scenario, learner, 0) for learner in learners]
    await asyncio.to_thread(runner.stop_postgres, stack)
    try:
        sent += [await _publish(producer, scenario, learner, 1) for learner in learners]
        await asyncio.sleep(3.0)  # the pipeline meets the dead database and retries
    finally:
        stack.pids.pop("postgres", None)
        await asyncio.to_thread(runner.start_postgres, stack)

    async def all_applied() -> bool:
        return {event_id for event_id, _ in pipeline.recorder.applied} >= set(sent)

    await eventually(all_applied, timeout=90, what="every record applied after PostgreSQL is back")
    conn = await asyncpg.connect(stack.database_url())
    try:
        inbox = await conn.fetchval(
            "SELECT count(*) FROM assessment.inbox WHERE consumer = $1 AND event_id = ANY($2)",
            pipeline.group,
            sent,
        )
    finally:
        await conn.close()
    retried = [r for r in caplog.records if r.getMessage().startswith("transient fault processing")]
    assert retried, "the pipeline met the stopped database (and retried)"
    assert inbox == len(sent), "each applied once (one inbox row each)"
    applied = [event_id for event_id, _ in pipeline.recorder.applied if event_id in set(sent)]
    assert sorted(applied) == sorted(sent), "no record applied twice"
    ours = set(sent)

    def mine(s: Seen) -> bool:
        return s.headers.get(CE_ID, b"").decode() in ours

    assert await dlq.wait_for(mine, timeout=3) == [], "nothing dead-lettered for a database outage"
