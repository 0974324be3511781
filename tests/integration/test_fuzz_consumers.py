"""Fuzzing every Kafka consumer on the real stack: hostile records interleaved with valid ones.

The four services run as OS processes on the test stack's Kafka broker and PostgreSQL server.
For each consumer group, hypothesis generates batches of hostile records (tests/fixtures/fuzz.py:
forged CloudEvents headers, broken encodings, wrong shapes, huge numbers, deep nesting, huge
arrays; LMS payloads under the configured LMS source, so that the adapters see them) spread over
every topic the group consumes, with a valid event after every few. Then:
- every hostile record is on the group's dead-letter topic exactly once, with a reason code that
  is a refusal, never `processing_failed` (an unexpected exception in a handler);
- every valid record was applied (its inbox row committed) and none was dead-lettered;
- the service still answers /health/ready (no worker died, no partition is stuck).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from contracts.topics import (
    ACHIEVEMENT_DEFINITIONS,
    CREDENTIALS_ISSUED,
    DLQ_REASON,
    EVENT_TOPICS,
    QA_ATTESTATIONS,
    Topic,
    dead_letter_topic,
)
from deploy.local.runner import Stack
from tests.fixtures.fuzz import (
    HostileRecord,
    budget,
    hostile_record,
    hostile_status_entry,
    nul_in_text,
    valid_headers,
)
from tests.fixtures.kafka import TopicWatcher
from tests.fixtures.valid_events import valid_event
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration

FUZZ_ID = "x-fuzz-id"
LMS_SOURCE = "https://lms.open-university.example"  # deploy/config/lms.json, open-university-moodle
LMS_TOPICS = {t.name for t in EVENT_TOPICS if t.name.startswith("credstream.lms.")}

# A valid event per group that its handler applies without any prior state.
VALID_TOPIC = {
    "assessment": ACHIEVEMENT_DEFINITIONS,
    "qa": ACHIEVEMENT_DEFINITIONS,
    "issuance": QA_ATTESTATIONS,
    "revocation": CREDENTIALS_ISSUED,  # a credential without status entries
}
GROUPS = tuple(VALID_TOPIC)


@dataclass(frozen=True)
class Sent:
    fuzz_id: str
    topic: Topic
    record: HostileRecord


def _consumed(group: str) -> list[Topic]:
    return [t for t in EVENT_TOPICS if group in t.consumers]


async def _send_batch(stack: Stack, group: str, hostile: list[Sent], valid_every: int) -> list[str]:
    """Send the hostile records with a valid event after every `valid_every`; the valid ids."""
    # The test plays every producer at once (LMSs, agencies, services): the stack's super user.
    producer = AIOKafkaProducer(**stack.kafka_admin().client_options(), acks="all", max_request_size=2**21)
    await producer.start()
    valid_ids: list[str] = []
    try:
        for i, sent in enumerate(hostile):
            headers = [*sent.record.headers, (FUZZ_ID, sent.fuzz_id.encode())]
            await producer.send_and_wait(
                sent.topic.name, value=sent.record.value, key=b"fuzz", headers=headers
            )
            if i % valid_every == valid_every - 1 or i == len(hostile) - 1:
                topic = VALID_TOPIC[group]
                event_id = f"fuzz-valid-{uuid.uuid4()}"
                await producer.send_and_wait(
                    topic.name, value=valid_event(topic).model_dump_json().encode(), key=b"fuzz",
                    headers=valid_headers(topic, event_id),
                )  # fmt: skip
                valid_ids.append(event_id)
    finally:
        await producer.stop()
    return valid_ids


async def _applied(stack: Stack, group: str, event_ids: list[str]) -> set[str]:
    conn = await asyncpg.connect(stack.database_url())
    try:
        rows = await conn.fetch(
            f"SELECT event_id FROM {group}.inbox WHERE consumer = $1 AND event_id = ANY($2::text[])",
            group,
            event_ids,
        )
    finally:
        await conn.close()
    return {r["event_id"] for r in rows}


async def _check(stack: Stack, group: str, hostile: list[Sent], base_url: str) -> None:
    dlq = await TopicWatcher(stack.kafka(), dead_letter_topic(group)).start()
    try:
        valid_ids = await _send_batch(stack, group, hostile, valid_every=3)
        ids = {s.fuzz_id for s in hostile}
        letters = await dlq.wait_for(lambda s: s.headers.get(FUZZ_ID, b"").decode("utf-8", "replace") in ids,
                                     count=len(ids), timeout=45, settle=1.0)  # fmt: skip
        by_id: dict[str, list[str]] = {}
        for letter in letters:
            by_id.setdefault(letter.headers[FUZZ_ID].decode(), []).append(letter.headers[DLQ_REASON].decode())
        for sent in hostile:
            reasons = by_id.get(sent.fuzz_id, [])
            assert len(reasons) == 1, f"{sent.topic.name} {sent.record}: dead letters {reasons}"
            reason = reasons[0]
            assert re.fullmatch(r"[a-z_]+", reason) and reason != "processing_failed", (reason, sent.record)
            if sent.topic.name not in LMS_TOPICS:
                assert reason in sent.record.reasons | {"envelope_invalid"}, (reason, sent.record)
        valid_id_bytes = {i.encode() for i in valid_ids}
        refused_valid = [s.headers for s in dlq.seen if s.headers.get("ce_id") in valid_id_bytes]
        assert not refused_valid, refused_valid

        async def all_applied() -> bool:
            return await _applied(stack, group, valid_ids) == set(valid_ids)

        await eventually(all_applied, timeout=60, what=f"{group}: every valid record applied")
    finally:
        await dlq.stop()
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        assert (await client.get("/health/ready")).status_code == 200


@st.composite
def _batch(draw: st.DrawFn, group: str) -> list[Sent]:
    topics = _consumed(group)
    sent = []
    for _ in range(draw(st.integers(min_value=4, max_value=12))):
        topic = draw(st.sampled_from(topics))
        fuzz_id = f"fuzz-{uuid.uuid4()}"
        if topic == CREDENTIALS_ISSUED and draw(st.booleans()):
            sent.append(Sent(fuzz_id, topic, draw(hostile_status_entry(fuzz_id))))
            continue
        if topic.name not in LMS_TOPICS and draw(st.integers(0, 4)) == 0:
            sent.append(Sent(fuzz_id, topic, nul_in_text(topic, fuzz_id)))
            continue
        source = LMS_SOURCE if topic.name in LMS_TOPICS else "urn:credstream:fuzz"
        sent.append(Sent(fuzz_id, topic, draw(hostile_record(topic, fuzz_id, source=source))))
    return sent


@pytest.mark.parametrize("group", GROUPS)
def test_hostile_records_are_dead_lettered_and_valid_ones_applied(
    group: str, stack: Stack, service_processes: dict[str, str]
) -> None:
    # No shrinking: each example waits on the real broker, and the failing batch is reported whole.
    @settings(max_examples=budget(4), suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(batch=_batch(group))
    def fuzz(batch: list[Sent]) -> None:
        asyncio.run(_check(stack, group, batch, service_processes[group]))

    fuzz()
