"""The consumer pipeline's refusal path, driven through FastStream's in-memory TestKafkaBroker.

A fast unit test in addition to the real-broker tests in tests/integration: records that fail
envelope or contract checks reach the dead-letter publisher with their reason, before any
database work (the pool is a fake that fails if touched).
"""

from __future__ import annotations

from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker

from contracts.envelope import CloudEventAttributes
from contracts.topics import ASSESSMENT_RESULTS
from services.runtime.dead_letter import DeadLetterPublisher
from services.runtime.messaging import ConsumerPipeline, make_broker, subscribe
from tests.fixtures.assessment import Scenario


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_and_wait(self, topic: str, **record: Any) -> None:
        self.sent.append({"topic": topic, **record})


class UntouchablePool:
    def acquire(self) -> Any:
        raise AssertionError("a refused record must not reach the database")


async def handler(*_: Any) -> None:
    raise AssertionError("a refused record must not reach the handler")


@pytest.mark.parametrize(
    ("value", "ce_type", "reason"),
    [
        (b"{not json", "credstream.assessment.result.submitted", "malformed_json"),
        (b'{"result_id": 1}', "credstream.assessment.result.submitted", "schema_invalid"),
        (b"{}", "credstream.nothing", "unknown_event_type"),
    ],
)
async def test_refused_records_go_to_the_dead_letter_publisher(
    value: bytes, ce_type: str, reason: str
) -> None:
    from services.assessment.settings import Settings

    settings = Settings()
    producer = FakeProducer()
    broker = make_broker(settings)
    pipeline = ConsumerPipeline(
        group="assessment",
        pool=UntouchablePool(),  # type: ignore[arg-type]
        dead_letters=DeadLetterPublisher(producer, service="assessment"),
        settings=settings,
    )
    subscribe(broker, pipeline, [(ASSESSMENT_RESULTS, handler)], settings=settings)
    headers = {
        k: v.decode() for k, v in CloudEventAttributes(id="e1", source="urn:t", type=ce_type).to_headers()
    }
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(value, ASSESSMENT_RESULTS.name, key=b"k", headers=headers)
    assert len(producer.sent) == 1
    letter = producer.sent[0]
    assert letter["topic"] == "credstream.dlq.assessment.v1"
    assert letter["value"] == value
    assert dict(letter["headers"])["dlq.reason"] == reason.encode()


class BrokenPool:
    """A database that fails with an unexpected (non-transient) error on every use."""

    def __init__(self) -> None:
        self.attempts = 0

    def acquire(self) -> Any:
        self.attempts += 1
        raise RuntimeError("unexpected failure")


async def test_an_unexpected_error_is_retried_then_dead_lettered_as_processing_failed() -> None:
    from services.assessment.settings import Settings

    settings = Settings(retry_attempts=3)
    producer, pool = FakeProducer(), BrokenPool()
    broker = make_broker(settings)
    pipeline = ConsumerPipeline(
        group="assessment",
        pool=pool,  # type: ignore[arg-type]
        dead_letters=DeadLetterPublisher(producer, service="assessment"),
        settings=settings,
    )
    subscribe(broker, pipeline, [(ASSESSMENT_RESULTS, handler)], settings=settings)
    event = Scenario().result("l1", 0, scaled=0.9)
    headers = {
        k: v.decode()
        for k, v in CloudEventAttributes(id="e2", source="urn:t", type=event.event_type).to_headers()
    }
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(
            event.model_dump_json().encode(), ASSESSMENT_RESULTS.name, key=b"k", headers=headers
        )
    assert pool.attempts == 3
    assert [dict(p["headers"])["dlq.reason"] for p in producer.sent] == [b"processing_failed"]
