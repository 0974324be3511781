"""Fuzzing the consumer pipeline in process: hostile records on every consumed topic.

Properties, for every (topic, consumer group) of contracts/topics.py:
- `decode` either returns an event or raises `DomainError` with the reason code the hostile
  record calls for; nothing else escapes (no UnicodeDecodeError, RecursionError, OverflowError…);
- `process` never raises: the hostile record produces exactly one dead letter carrying its reason,
  and a valid record sent right after it reaches the handler.

The database here is a fake of the one port the pipeline uses (the inbox insert); the same
records go through the real services, Kafka and PostgreSQL in tests/integration/test_fuzz_consumers.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from aiokafka import ConsumerRecord
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.topics import DLQ_REASON, EVENT_TOPICS, Topic
from services.runtime.dead_letter import DeadLetterPublisher
from services.runtime.errors import DomainError, RetryableError
from services.runtime.messaging import ConsumerPipeline, InboundEvent, keep_records
from tests.fixtures.fuzz import DECODE_REASONS, budget, hostile_record, nul_in_text, valid_headers
from tests.fixtures.valid_events import valid_event

CONSUMED = [(topic, group) for topic in EVENT_TOPICS for group in topic.consumers if group != "agencies"]
IDS = [f"{group}:{topic.name}" for topic, group in CONSUMED]


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_and_wait(self, topic: str, **record: Any) -> None:
        self.sent.append({"topic": topic, **record})


class FakeConnection:
    """The inbox insert of `services.runtime.inbox.claim`, on a set; a transaction that raises
    takes its claims back, as PostgreSQL's rollback would."""

    def __init__(self, claimed: set[tuple[str, str, str]]) -> None:
        self._claimed = claimed

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        before = set(self._claimed)
        try:
            yield
        except BaseException:
            self._claimed.intersection_update(before)
            raise

    async def fetchval(self, _sql: str, consumer: str, source: str, event_id: str, _type: str) -> bool:
        key = (consumer, source, event_id)
        if key in self._claimed:
            return False
        self._claimed.add(key)
        return True


class FakePool:
    def __init__(self) -> None:
        self.claimed: set[tuple[str, str, str]] = set()

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeConnection]:
        yield FakeConnection(self.claimed)


def _record(
    topic: Topic, offset: int, headers: list[tuple[str, bytes]], value: bytes
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=topic.name, partition=0, offset=offset, timestamp=0, timestamp_type=0, key=b"k",
        value=value, checksum=None, serialized_key_size=1, serialized_value_size=len(value),
        headers=headers,
    )  # fmt: skip


def _pipeline(group: str) -> tuple[ConsumerPipeline, FakeProducer]:
    from services.assessment.settings import Settings

    producer = FakeProducer()
    pipeline = ConsumerPipeline(
        group=group,
        pool=FakePool(),  # type: ignore[arg-type]
        dead_letters=DeadLetterPublisher(producer, service=group),
        settings=Settings(retry_attempts=1),
    )
    return pipeline, producer


def _accepts_any_json(topic: Topic) -> bool:
    """The LMS topics carry foreign payloads (any JSON object); their adapters validate them in the
    handler, so a hostile payload may pass `decode` there (tests/integration covers the handler)."""
    return all(not any(f.is_required() for f in event.model_fields.values()) for event in topic.events)


@pytest.mark.parametrize(("topic", "group"), CONSUMED, ids=IDS)
@settings(max_examples=budget(60))
@given(data=st.data())
def test_decode_refuses_hostile_records_with_their_reason(
    topic: Topic, group: str, data: st.DataObject
) -> None:
    record = data.draw(hostile_record(topic, "fuzz-1", oversized=True))
    pipeline, _ = _pipeline(group)
    started = time.perf_counter()
    try:
        pipeline.decode(topic, _record(topic, 0, record.headers, record.value))
    except DomainError as error:
        assert error.reason in record.reasons, (error.reason, str(error)[:300])
        assert str(error), "a refusal says why"
    else:
        assert _accepts_any_json(topic) and "envelope_invalid" not in record.reasons
    assert time.perf_counter() - started < 2.0, "decoding one record is bounded"


@pytest.mark.parametrize(("topic", "group"), CONSUMED, ids=IDS)
@settings(max_examples=budget(25))
@given(data=st.data())
def test_a_hostile_record_is_dead_lettered_once_and_the_next_valid_one_is_applied(
    topic: Topic, group: str, data: st.DataObject
) -> None:
    hostile = data.draw(hostile_record(topic, "fuzz-bad", oversized=True))
    pipeline, producer = _pipeline(group)
    applied: list[str] = []

    async def handler(inbound: InboundEvent[Any], _conn: Any) -> None:
        if inbound.attributes.id == "fuzz-bad":
            # A foreign (LMS) payload that passed decode: its adapter refuses it in the handler.
            raise DomainError("adapter_refused", "hostile payload")
        applied.append(inbound.attributes.id)

    valid = valid_event(topic)

    async def run() -> None:
        await pipeline.process(topic, _record(topic, 0, hostile.headers, hostile.value), handler)
        await pipeline.process(
            topic,
            _record(topic, 1, valid_headers(topic, "fuzz-good"), valid.model_dump_json().encode()),
            handler,
        )

    asyncio.run(run())
    assert [p["topic"] for p in producer.sent] == [f"credstream.dlq.{group}.v1"]
    letter = producer.sent[0]
    reason = dict(letter["headers"])[DLQ_REASON].decode()
    allowed = hostile.reasons | ({"adapter_refused"} if _accepts_any_json(topic) else set())
    assert reason in allowed, reason
    assert letter["value"] == hostile.value, "the dead letter keeps the record byte for byte"
    assert applied == ["fuzz-good"]


def test_the_decode_reasons_are_the_pipelines() -> None:
    """The strategies' reason codes are those `decode` gives (a typo would hide a wrong refusal)."""
    import inspect

    from services.runtime import messaging

    source = inspect.getsource(messaging)
    assert all(f'"{reason}"' in source for reason in DECODE_REASONS)


@settings(max_examples=budget(50))
@given(
    headers=st.lists(
        st.tuples(
            st.sampled_from(["ce_id", "traceparent", "x-junk", "content-type"]),
            st.none() | st.binary(max_size=20),
        ),
        max_size=4,
    )
)
def test_faststream_parses_records_whose_headers_are_not_utf8(
    headers: list[tuple[str, bytes | None]],
) -> None:
    """FastStream's own parser raised on such headers, before the pipeline could dead-letter the
    record; through `keep_records` it parses, and the pipeline still sees the original bytes."""
    from faststream.kafka.message import KafkaMessage
    from faststream.kafka.parser import AioKafkaBatchParser

    record = _record(EVENT_TOPICS[0], 0, headers, b"{}")  # type: ignore[arg-type]
    parse: Any = AioKafkaBatchParser(KafkaMessage, None).parse_batch
    message = asyncio.run(keep_records([record], parse))
    assert message.raw_message == (record,)
    assert message.raw_message[0] is record
    assert message.body == [b"{}"]


class ReasonedError(DomainError):
    """A service's refusal: a DomainError subclass, as every service's error root is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, reason)


def test_a_service_error_is_dead_lettered_with_its_own_reason_code() -> None:
    topic = EVENT_TOPICS[0]
    pipeline, producer = _pipeline("assessment")

    async def handler(*_: Any) -> None:
        raise ReasonedError("status_entry_malformed")

    valid = valid_event(topic).model_dump_json().encode()
    asyncio.run(pipeline.process(topic, _record(topic, 0, valid_headers(topic, "e1"), valid), handler))
    assert [dict(p["headers"])[DLQ_REASON] for p in producer.sent] == [b"status_entry_malformed"]


def test_a_transient_domain_error_is_retried_in_place_never_dead_lettered() -> None:
    topic = EVENT_TOPICS[0]
    pipeline, producer = _pipeline("assessment")
    calls: list[int] = []

    async def handler(*_: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RetryableError("the signer is restarting")

    valid = valid_event(topic).model_dump_json().encode()
    asyncio.run(pipeline.process(topic, _record(topic, 0, valid_headers(topic, "e1"), valid), handler))
    assert calls == [1, 1] and producer.sent == []


def test_text_postgresql_cannot_store_is_dead_lettered_as_invalid_text_without_retries() -> None:
    topic = EVENT_TOPICS[0]
    pipeline, producer = _pipeline("assessment")
    calls: list[int] = []

    async def handler(*_: Any) -> None:
        calls.append(1)
        raise asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence: 0x00")

    record = nul_in_text(topic, "e1")
    asyncio.run(pipeline.process(topic, _record(topic, 0, record.headers, record.value), handler))
    assert calls == [1]
    assert [dict(p["headers"])[DLQ_REASON] for p in producer.sent] == [b"invalid_text"]
