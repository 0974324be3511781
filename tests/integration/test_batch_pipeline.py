"""The consumer pipeline's batch path on the real PostgreSQL server (services/runtime/messaging.py).

Records are built as the consumer would hand them over and run through `process_batch` against a
scratch schema with the runtime's own inbox/outbox migrations; dead letters go to a recording
publisher. What is checked: every valid record applied exactly once, duplicates (in the batch
and redelivered) skipped, refusals dead-lettered without losing the records around them, and a
batched handler seeing each record's own trace.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import pytest
from aiokafka import ConsumerRecord
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts.envelope import CloudEventAttributes
from contracts.topics import ASSESSMENT_RESULTS, Topic
from deploy.local.runner import Stack
from deploy.tools.publish import event_record
from services.assessment.settings import Settings
from services.runtime.db import transaction
from services.runtime.dead_letter import DeadLetterPublisher
from services.runtime.errors import DomainError
from services.runtime.messaging import Batched, ConsumerPipeline, Handler, InboundEvent
from services.runtime.migrate import RUNTIME_MIGRATIONS, migrate
from tests.fixtures.assessment import LMS_SOURCE, Scenario, assessment_settings


class RecordingProducer:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_and_wait(self, topic: str, **record: Any) -> None:
        self.sent.append({"topic": topic, **record})

    def reasons(self) -> list[str]:
        return [dict(letter["headers"])["dlq.reason"].decode() for letter in self.sent]


@pytest.fixture
async def scratch(stack: Stack) -> AsyncIterator[tuple[asyncpg.Pool, Settings]]:
    """A fresh schema with the inbox and outbox, and a table the handlers write to."""
    schema = f"batch_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(stack.database_url())
    await migrate(admin, schema=schema, components=[("runtime", RUNTIME_MIGRATIONS)])
    await admin.execute(f"CREATE TABLE {schema}.applied (result_id text PRIMARY KEY, times int NOT NULL)")
    pool = await asyncpg.create_pool(
        stack.database_url(), min_size=1, max_size=2, server_settings={"search_path": schema}
    )
    assert pool is not None
    yield pool, assessment_settings(stack, retry_attempts=2)
    await pool.close()
    await admin.execute(f"DROP SCHEMA {schema} CASCADE")
    await admin.close()


def pipeline_on(pool: asyncpg.Pool, settings: Settings) -> tuple[ConsumerPipeline, RecordingProducer]:
    producer = RecordingProducer()
    pipeline = ConsumerPipeline(
        group="batch-test",
        pool=pool,
        dead_letters=DeadLetterPublisher(producer, service="assessment"),
        settings=settings,
    )
    return pipeline, producer


def record(
    value: bytes, headers: Sequence[tuple[str, bytes]], offset: int, topic: Topic = ASSESSMENT_RESULTS
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=topic.name,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=value,
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=len(value),
        headers=list(headers),
    )


def _attrs(event_id: str) -> list[tuple[str, bytes]]:
    return CloudEventAttributes(
        id=event_id, source=LMS_SOURCE, type="credstream.assessment.result.submitted"
    ).to_headers()


async def apply(inbound: InboundEvent[Any], conn: asyncpg.Connection) -> None:
    result_id = inbound.event.result_id
    if result_id.startswith("poison"):
        raise DomainError("refused_by_handler", f"{result_id} is refused")
    await conn.execute(
        "INSERT INTO applied VALUES ($1, 1) ON CONFLICT (result_id) DO UPDATE SET times = applied.times + 1",
        result_id,
    )


def route(handler: Handler) -> Any:
    return lambda topic_name: (ASSESSMENT_RESULTS, handler)


async def applied(pool: asyncpg.Pool) -> dict[str, int]:
    return {r["result_id"]: r["times"] for r in await pool.fetch("SELECT result_id, times FROM applied")}


async def test_a_batch_applies_each_valid_record_once_and_dead_letters_only_the_refused(
    scratch: tuple[asyncpg.Pool, Settings],
) -> None:
    pool, settings = scratch
    pipeline, letters = pipeline_on(pool, settings)
    scenario, learner = Scenario(), Scenario.learner()
    records = []
    for offset, result_id in enumerate(["r1", "r2", "poison-1", "r3"]):
        value, headers = event_record(
            scenario.result(learner, 0, scaled=0.9, result_id=result_id), source=LMS_SOURCE
        )
        records.append(record(value, headers, offset))
    records.append(record(records[0].value, records[0].headers, 4))  # the same event again (same ce_id)
    records.append(record(b"{not json", _attrs("x-1"), 5))

    await pipeline.process_batch(records, route(apply))
    assert await applied(pool) == {"r1": 1, "r2": 1, "r3": 1}
    assert sorted(letters.reasons()) == ["malformed_json", "refused_by_handler"]

    # The whole poll delivered again (a crash before the offset commit): nothing applied twice.
    await pipeline.process_batch(records, route(apply))
    assert await applied(pool) == {"r1": 1, "r2": 1, "r3": 1}
    assert await pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'batch-test'") == 3


async def test_a_batched_handler_gets_the_run_and_each_record_keeps_its_own_trace(
    scratch: tuple[asyncpg.Pool, Settings], spans: InMemorySpanExporter
) -> None:
    pool, settings = scratch
    pipeline, letters = pipeline_on(pool, settings)
    scenario, learner = Scenario(), Scenario.learner()
    calls: list[list[str]] = []
    traces: dict[str, int] = {}

    async def handle(batch: Sequence[InboundEvent[Any]], conn: asyncpg.Connection) -> None:
        calls.append([inbound.event.result_id for inbound in batch])
        for inbound in batch:
            assert inbound.trace is not None
            traces[inbound.event.result_id] = (
                trace.get_current_span(inbound.trace).get_span_context().trace_id
            )
            await apply(inbound, conn)

    tracer = trace.get_tracer("test")
    records, expected = [], {}
    for offset in range(5):
        with tracer.start_as_current_span("lms send") as span:
            value, headers = event_record(
                scenario.result(learner, 0, scaled=0.9, result_id=f"t{offset}"), source=LMS_SOURCE
            )
            expected[f"t{offset}"] = span.get_span_context().trace_id
        records.append(record(value, headers, offset))

    await pipeline.process_batch(records, route(Batched(handle)))
    assert calls == [[f"t{i}" for i in range(5)]]  # one call for the run
    assert traces == expected  # each record's span continues its producer's trace
    assert await applied(pool) == dict.fromkeys(expected, 1)
    assert letters.sent == []


async def test_a_refusal_inside_a_batched_run_rolls_back_the_run_and_the_rest_is_applied_one_by_one(
    scratch: tuple[asyncpg.Pool, Settings],
) -> None:
    pool, settings = scratch
    pipeline, letters = pipeline_on(pool, settings)
    scenario, learner = Scenario(), Scenario.learner()
    sizes: list[int] = []

    async def handle(batch: Sequence[InboundEvent[Any]], conn: asyncpg.Connection) -> None:
        sizes.append(len(batch))
        for inbound in batch:
            await apply(inbound, conn)

    records = []
    for offset, result_id in enumerate(["b1", "poison-2", "b2"]):
        value, headers = event_record(
            scenario.result(learner, 0, scaled=0.9, result_id=result_id), source=LMS_SOURCE
        )
        records.append(record(value, headers, offset))
    await pipeline.process_batch(records, route(Batched(handle)))
    assert sizes == [3, 1, 1, 1]  # the run, rolled back; then each record in its own transaction
    assert await applied(pool) == {"b1": 1, "b2": 1}
    assert letters.reasons() == ["refused_by_handler"]


async def test_a_transaction_error_in_a_batch_is_not_a_refusal(
    scratch: tuple[asyncpg.Pool, Settings],
) -> None:
    """A batch rolled back for a database error is run again one by one, not dead-lettered."""
    pool, settings = scratch
    pipeline, letters = pipeline_on(pool, settings)
    scenario, learner = Scenario(), Scenario.learner()
    failures = iter([True])

    async def flaky(inbound: InboundEvent[Any], conn: asyncpg.Connection) -> None:
        if next(failures, False):
            # A serialization failure is transient: the batch rolls back and is retried.
            raise asyncpg.SerializationError("could not serialize access")
        await apply(inbound, conn)

    records = []
    for offset in range(3):
        value, headers = event_record(
            scenario.result(learner, 0, scaled=0.9, result_id=f"f{offset}"), source=LMS_SOURCE
        )
        records.append(record(value, headers, offset))
    await pipeline.process_batch(records, route(flaky))
    assert await applied(pool) == {"f0": 1, "f1": 1, "f2": 1}
    assert letters.sent == []
    async with transaction(pool) as conn:
        assert await conn.fetchval("SELECT count(*) FROM inbox") == 3
