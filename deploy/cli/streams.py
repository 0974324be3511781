"""Kafka for the CLI: publishing a simulator run, counting what the platform made of it, and
reading a topic (`tail`). Connection failures become `PlatformUnreachable` (exit code 3). Each
client connects as a Kafka principal (`KafkaAccess`): the operator reads, an LMS publishes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError

from contracts.envelope import CE_ID, CE_SOURCE
from contracts.topics import ACHIEVEMENTS_EARNED, all_topic_names, dead_letter_topic
from deploy.cli.errors import PlatformUnreachable, UsageError
from deploy.cli.simulator import Plan
from services.runtime.kafka import KafkaAccess

Progress = Callable[[int], None]
ASSESSMENT_DLQ = dead_letter_topic("assessment")


@asynccontextmanager
async def producer(access: KafkaAccess) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(**access.client_options(), acks="all", enable_idempotence=True)
    try:
        await client.start()
    except KafkaConnectionError as error:
        raise PlatformUnreachable(f"Kafka does not answer at {access.bootstrap_servers} ({error})") from error
    try:
        yield client
    finally:
        await client.stop()


@asynccontextmanager
async def consumer(access: KafkaAccess) -> AsyncIterator[AIOKafkaConsumer]:
    client = AIOKafkaConsumer(**access.client_options(), enable_auto_commit=False)
    try:
        await client.start()
    except KafkaConnectionError as error:
        raise PlatformUnreachable(f"Kafka does not answer at {access.bootstrap_servers} ({error})") from error
    try:
        yield client
    finally:
        await client.stop()


def resolve_topic(name: str) -> str:
    """A full topic name from a full or short one (`assessment.results`, `dlq.assessment`)."""
    names = all_topic_names()
    if name in names:
        return name
    matches = [t for t in names if t.removeprefix("credstream.").removesuffix(".v1") == name]
    if len(matches) == 1:
        return matches[0]
    raise UsageError(f"unknown topic {name!r}; one of: {', '.join(names)}")


async def assign(client: AIOKafkaConsumer, topic: str, *, from_beginning: bool) -> None:
    """Read every partition of `topic` from its start, or only what arrives from now on."""
    partitions = client.partitions_for_topic(topic)
    if not partitions:
        await client._client.force_metadata_update()
        partitions = client.partitions_for_topic(topic) or set()
    if not partitions:
        raise UsageError(f"topic {topic} does not exist on the broker")
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    client.assign(tps)
    offsets = await (client.beginning_offsets(tps) if from_beginning else client.end_offsets(tps))
    for tp in tps:
        client.seek(tp, offsets[tp])


async def publish_plan(plan: Plan, access: KafkaAccess, *, progress: Progress | None = None) -> int:
    """Publish every record of the plan in its learner's format, keyed by the learner reference
    the platform derives, as an LMS principal (`access`); returns the number sent."""
    async with producer(access) as client:
        pending: list[asyncio.Future[Any]] = []
        for send in plan.sends:
            encoder = plan.encoder_of(send)
            source = plan.source_of(send)
            if send.result is not None:
                value, headers = encoder.encode(send.result, source=source, event_id=send.event_id)
                learner = send.result.learner_id
            else:
                assert send.malformed is not None
                value = send.malformed.value
                headers = encoder.encode_malformed(send.malformed, source=source, event_id=send.event_id)
                learner = send.malformed.learner_id
            key = plan.learner_refs.get(learner, learner)
            pending.append(await client.send(encoder.topic, value=value, key=key.encode(), headers=headers))
            if len(pending) >= 500:
                await asyncio.gather(*pending)
                if progress:
                    progress(len(pending))
                pending.clear()
        await asyncio.gather(*pending)
        if progress:
            progress(len(pending))
    return len(plan.sends)


@dataclass
class Observed:
    """What the platform made of a simulator run so far."""

    earned: set[tuple[str, str]] = field(default_factory=set)
    earned_events: int = 0
    dlq: int = 0
    dlq_reasons: dict[str, int] = field(default_factory=dict)


class RunObserver:
    """Counts `achievement.earned` for the run's learners and dead letters of the run's records
    (a `ce_source` of the run or of an LMS it used, and a `ce_id` of the run), from the end
    offsets at `start()` (so start it before publishing)."""

    def __init__(self, access: KafkaAccess, plan: Plan) -> None:
        self._access = access
        self._learners = set(plan.learners)
        self._sources = {s.encode() for s in plan.sources}
        self._id_prefix = f"{plan.run_id}-".encode()
        self.observed = Observed()
        self._earned: AIOKafkaConsumer | None = None
        self._dlq: AIOKafkaConsumer | None = None

    async def start(self) -> RunObserver:
        self._earned = AIOKafkaConsumer(**self._access.client_options(), enable_auto_commit=False)
        self._dlq = AIOKafkaConsumer(**self._access.client_options(), enable_auto_commit=False)
        try:
            await self._earned.start()
            await self._dlq.start()
        except KafkaConnectionError as error:
            await self.stop()
            raise PlatformUnreachable(
                f"Kafka does not answer at {self._access.bootstrap_servers} ({error})"
            ) from error
        await assign(self._earned, ACHIEVEMENTS_EARNED.name, from_beginning=False)
        await assign(self._dlq, ASSESSMENT_DLQ, from_beginning=False)
        return self

    async def stop(self) -> None:
        for client in (self._earned, self._dlq):
            if client is not None:
                with suppress(KafkaError):
                    await client.stop()

    async def poll(self, wait_s: float = 0.5) -> Observed:
        assert self._earned is not None and self._dlq is not None
        for records in (await self._earned.getmany(timeout_ms=int(wait_s * 500))).values():
            for record in records:
                event = json.loads(record.value or b"{}")
                learner = event.get("learner", {}).get("id")
                if learner in self._learners:
                    self.observed.earned_events += 1
                    self.observed.earned.add((learner, event["achievement_id"]))
        for records in (await self._dlq.getmany(timeout_ms=int(wait_s * 500))).values():
            for record in records:
                headers = dict(record.headers)
                if headers.get(CE_SOURCE) in self._sources and (headers.get(CE_ID) or b"").startswith(
                    self._id_prefix
                ):
                    self.observed.dlq += 1
                    reason = headers.get("dlq.reason", b"?").decode(errors="replace")
                    self.observed.dlq_reasons[reason] = self.observed.dlq_reasons.get(reason, 0) + 1
        return self.observed

    async def until_settled(
        self, plan: Plan, *, within_s: float, settle_s: float, progress: Progress | None = None
    ) -> Observed:
        """Poll until the expected counts arrived (or `within_s` passed), then `settle_s` seconds more so
        an unexpected extra event (a second award, an extra dead letter) is counted too."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        seen = 0
        while loop.time() < deadline:
            observed = await self.poll()
            done = observed.earned_events + observed.dlq
            if progress and done > seen:
                progress(done - seen)
                seen = done
            if observed.earned_events >= len(plan.expected_earned) and observed.dlq >= plan.expected_dlq:
                break
        settle_until = loop.time() + settle_s
        while loop.time() < settle_until:
            await self.poll()
        return self.observed
