"""End-to-end benchmark: assessment results in -> achievement.earned out, on the real stack.

    deploy/local/up                                   # the platform (default profile)
    .venv/bin/python -m bench.e2e_assessment --events 5000     # [--profile test]

Defines a fresh achievement needing one activity, produces N passing results for N distinct
learners (as fast as the producer goes, or at --rate events/s), and watches the earned topic
until every learner's achievement.earned has arrived. Prints throughput and latency (time from
the result's send to the earned record's arrival at the watcher). It plays the platform's outside
parties at once, so it connects as the profile's Kafka super user (var/<profile>/kafka/).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts.topics import ACHIEVEMENT_DEFINITIONS, ACHIEVEMENTS_EARNED, ASSESSMENT_RESULTS
from contracts.v1.assessment import (
    AchievementCriteria,
    AchievementDefined,
    AssessmentResultSubmitted,
    LearnerRef,
    Score,
)
from deploy.local.runner import Stack
from deploy.tools.publish import event_record, publish_event
from services.runtime.kafka import KafkaAccess


async def send_results(
    producer: AIOKafkaProducer,
    learners: list[str],
    *,
    issuer_id: str,
    activity: str,
    rate: float | None,
    sent_at: dict[str, float],
) -> None:
    """One passing result per learner on the results topic, as fast as the producer goes or at
    `rate` per second; `sent_at` gets each learner's send time. Returns once all are acknowledged."""
    start = time.perf_counter()
    futures = []
    for i, learner in enumerate(learners):
        result = AssessmentResultSubmitted(
            result_id=f"{learner}-r",
            issuer_id=issuer_id,
            learner=LearnerRef(id=learner),
            activity_id=activity,
            score=Score(scaled=0.9),
            success=True,
            occurred_at=datetime.now(UTC),
        )
        value, headers = event_record(result, source="urn:bench:lms")
        sent_at[learner] = time.perf_counter()
        futures.append(
            await producer.send(ASSESSMENT_RESULTS.name, value=value, key=learner.encode(), headers=headers)
        )
        if rate:
            delay = start + (i + 1) / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
    await asyncio.gather(*futures)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(access: KafkaAccess, events: int, rate: float | None, timeout: float) -> None:  # noqa: ASYNC109
    tag = uuid.uuid4().hex[:10]
    issuer = f"https://bench-{tag}.credstream.example"
    activity = f"{issuer}/activities/exam"
    definition = AchievementDefined(
        achievement_id=f"{issuer}/achievements/bench",
        issuer_id=issuer,
        revision=1,
        name="bench",
        criteria=AchievementCriteria(required_activity_ids=[activity], min_scaled_score=0.5),
    )
    consumer = AIOKafkaConsumer(**access.client_options(), enable_auto_commit=False)
    await consumer.start()
    await consumer._client.force_metadata_update()  # so the partitions are known
    partitions = consumer._client.cluster.partitions_for_topic(ACHIEVEMENTS_EARNED.name) or set()
    tps = [TopicPartition(ACHIEVEMENTS_EARNED.name, p) for p in partitions]
    consumer.assign(tps)
    for tp, end in (await consumer.end_offsets(tps)).items():
        consumer.seek(tp, end)

    producer = AIOKafkaProducer(**access.client_options(), acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    await publish_event(
        producer, ACHIEVEMENT_DEFINITIONS, definition, key=definition.achievement_id, source="urn:bench"
    )
    await asyncio.sleep(2.0)  # let the definition land before the results (it is not what we measure)

    sent_at: dict[str, float] = {}
    arrived: dict[str, float] = {}

    async def watch() -> None:
        while len(arrived) < events:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                now = time.perf_counter()
                for r in records:
                    learner = json.loads(r.value)["learner"]["id"]
                    if learner in sent_at and learner not in arrived:
                        arrived[learner] = now

    watcher = asyncio.create_task(watch())
    start = time.perf_counter()
    learners = [f"bench-{tag}-{i}" for i in range(events)]
    await send_results(producer, learners, issuer_id=issuer, activity=activity, rate=rate, sent_at=sent_at)
    produced = time.perf_counter()
    try:
        await asyncio.wait_for(watcher, timeout)
    except TimeoutError:
        print(f"timeout: {len(arrived)}/{events} earned events arrived")
    done = time.perf_counter()
    await producer.stop()
    await consumer.stop()

    latencies_ms = [(arrived[k] - sent_at[k]) * 1000 for k in arrived]
    print(f"events: {events}  earned observed: {len(arrived)}  offered rate: {rate or 'max'}")
    print(f"produce time: {produced - start:.2f} s  end-to-end time: {done - start:.2f} s")
    print(f"throughput: {len(arrived) / (done - start):.0f} achievements earned/s")
    if latencies_ms:
        print(
            "latency ms: "
            f"p50 {percentile(latencies_ms, 50):.0f}  p95 {percentile(latencies_ms, 95):.0f}  "
            f"p99 {percentile(latencies_ms, 99):.0f}  max {max(latencies_ms):.0f}  "
            f"mean {statistics.fmean(latencies_ms):.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="default", help="the local platform's profile")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument(
        "--rate", type=float, default=None, help="offered events/s (default: as fast as possible)"
    )
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    asyncio.run(run(Stack.for_profile(args.profile).kafka_admin(), args.events, args.rate, args.timeout))


if __name__ == "__main__":
    main()
