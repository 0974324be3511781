"""End-to-end benchmark: assessment results in -> signed credential stored and credential.issued out.

    deploy/local/up                                   # the platform (default profile, seeded)
    .venv/bin/python -m bench.e2e_issuance --events 5000
    .venv/bin/python -m bench.e2e_issuance --events 5000 --rate 500   # latency at an offered rate

Defines a fresh achievement (one activity) for the seeded issuer through the issuance admin API,
produces N passing results for N distinct learners (as fast as the producer goes, or at --rate
events/s) and watches credential.issued until every learner's credential has arrived. The path
measured is the whole platform: assessment (inbox, result, criteria, outbox) -> achievement.earned
-> issuance (inbox, QA coverage, status indexes, credential, eddsa-rdfc-2022 proof, store,
outbox) -> credential.issued. Prints throughput, latency (result sent -> credential.issued seen)
and the credentials stored, counted by the issuance admin API.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.e2e_assessment import percentile, send_results
from contracts.ids import earned_id
from contracts.topics import CREDENTIALS_ISSUED
from deploy.cli.endpoints import Endpoints
from deploy.local.runner import Stack

ISSUER = "open-university"  # seeded by deploy/local/up, with a QA attestation covering it


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU time (user + system) used so far by each component of the stack, its child processes
    included (PostgreSQL's backends): a figure that stays meaningful on a busy machine."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        used[int(entry)] = (int(fields[11]) + int(fields[12])) / tick

    def tree(pid: int) -> float:
        return used.get(pid, 0.0) + sum(tree(child) for child, parent in parents.items() if parent == pid)

    return {name: tree(pid) for name, pid in pids.items()}


def achievement(tag: str) -> tuple[dict[str, Any], str]:
    activity = f"https://lms.bench.example/{tag}/exam"
    body = {
        "achievement_id": f"bench-{tag}",
        "issuer_id": ISSUER,
        "name": f"Benchmark achievement {tag}",
        "description": "A one-activity achievement defined by bench.e2e_issuance.",
        "criteria_narrative": "Pass the exam with at least half of the marks.",
        "criteria": {"required_activity_ids": [activity], "min_scaled_score": 0.5},
        "learning_outcomes": [{"outcome": "Complete a benchmark run."}],
        "ects_credits": 1,
        "workload_hours": 25,
        "eqf_level": 5,
        "assessment_type": "online-test",
        "participation_form": "online",
        "supervision": "unsupervised",
        "valid_for_days": 365,
    }
    return body, activity


async def define(endpoints: Endpoints, body: dict[str, Any]) -> None:
    async with endpoints.client("issuance") as client:
        response = await client.put(f"/admin/achievements/{body['achievement_id']}", json=body)
        response.raise_for_status()


async def stored_count(profile: str, achievement_id: str) -> tuple[int, int]:
    """(credentials stored, distinct learners among them) for the run's achievement."""
    conn = await asyncpg.connect(Stack.for_profile(profile).database_url())
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, count(DISTINCT learner_id) AS learners "
            "FROM issuance.credentials WHERE achievement_id = $1",
            achievement_id,
        )
        assert row is not None
        return row["n"], row["learners"]
    finally:
        await conn.close()


async def run(
    endpoints: Endpoints,
    events: int,
    rate: float | None,
    timeout: float,  # noqa: ASYNC109
    linger_ms: int = 5,
) -> None:
    tag = uuid.uuid4().hex[:10]
    body, activity = achievement(tag)
    # The benchmark plays the LMS and a subscriber at once: it connects as the stack's Kafka super
    # user (var/<profile>/kafka/), as bench.e2e_assessment does.
    access = Stack.for_profile(endpoints.profile).kafka_admin()
    consumer = AIOKafkaConsumer(**access.client_options(), enable_auto_commit=False)
    await consumer.start()
    await consumer._client.force_metadata_update()  # so the partitions are known
    partitions = consumer._client.cluster.partitions_for_topic(CREDENTIALS_ISSUED.name) or set()
    tps = [TopicPartition(CREDENTIALS_ISSUED.name, p) for p in partitions]
    consumer.assign(tps)
    for tp, end in (await consumer.end_offsets(tps)).items():
        consumer.seek(tp, end)

    await define(endpoints, body)
    await asyncio.sleep(3.0)  # let achievement.defined reach assessment (not what we measure)
    # The LMS's producer: each request costs the broker about as much whatever it carries, so at a
    # steady rate its linger decides much of the broker's load (README, "Performance").
    producer = AIOKafkaProducer(
        **access.client_options(), acks="all", enable_idempotence=True, linger_ms=linger_ms
    )
    await producer.start()

    sent_at: dict[str, float] = {}
    arrived: dict[str, float] = {}
    achievement_id = body["achievement_id"]
    learners = [f"bench-{tag}-{i}" for i in range(events)]
    learner_of = {
        earned_id(issuer_id=ISSUER, achievement_id=achievement_id, learner_id=learner): learner
        for learner in learners
    }

    async def watch() -> None:
        while len(arrived) < events:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                now = time.perf_counter()
                for r in records:
                    issued = json.loads(r.value)
                    if issued.get("achievement_id") != achievement_id:
                        continue
                    learner = learner_of.get(issued.get("earned_id"))
                    if learner is not None and learner not in arrived:
                        arrived[learner] = now

    watcher = asyncio.create_task(watch())
    pids = Stack.for_profile(endpoints.profile).pids
    cpu_before = cpu_seconds(pids)
    start = time.perf_counter()
    await send_results(producer, learners, issuer_id=ISSUER, activity=activity, rate=rate, sent_at=sent_at)
    produced = time.perf_counter()
    try:
        await asyncio.wait_for(watcher, timeout)
    except TimeoutError:
        print(f"timeout: {len(arrived)}/{events} credential.issued events arrived")
    done = time.perf_counter()
    cpu = {name: used - cpu_before.get(name, 0.0) for name, used in cpu_seconds(pids).items()}
    await producer.stop()
    await consumer.stop()
    stored, distinct = await stored_count(endpoints.profile, achievement_id)

    latencies_ms = [(arrived[k] - sent_at[k]) * 1000 for k in arrived]
    print(
        f"events: {events}  credential.issued observed: {len(arrived)}  "
        f"credentials stored: {stored} ({distinct} learners)  offered rate: {rate or 'max'}"
    )
    print(f"produce time: {produced - start:.2f} s  end-to-end time: {done - start:.2f} s")
    print(f"throughput: {len(arrived) / (done - start):.0f} credentials/s")
    if arrived:
        per = ", ".join(f"{name} {seconds / len(arrived) * 1000:.2f}" for name, seconds in cpu.items())
        print(f"CPU ms per credential: {per}; total {sum(cpu.values()) / len(arrived) * 1000:.2f}")
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
    parser.add_argument("--profile", default="default", help="local runner profile whose ports to use")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument(
        "--rate", type=float, default=None, help="offered events/s (default: as fast as possible)"
    )
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument(
        "--linger-ms",
        type=int,
        default=5,
        help="the LMS producer's linger: how long it holds a result to send it with the next ones",
    )
    args = parser.parse_args()
    asyncio.run(run(Endpoints.resolve(args.profile), args.events, args.rate, args.timeout, args.linger_ms))


if __name__ == "__main__":
    main()
