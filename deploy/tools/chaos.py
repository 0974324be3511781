"""Chaos run: the whole platform under a steady LMS stream while its parts are crashed in turn.

`ChaosRun` drives a local stack (deploy/local/runner.py, services as real processes): it sends
an LMS simulator plan (deploy/cli/simulator.py: mixed formats, re-takes, duplicates, malformed
records) in chunks, and during each chunk injects one fault at a random moment:

- `kill:<service>`   SIGKILL the service process, start it again;
- `kafka`            stop the broker (controlled shutdown), start it on the same data directory;
- `postgres`         stop PostgreSQL (fast shutdown), start it on the same data directory;
- `pause:<service>`  SIGSTOP the process for longer than the consumer session timeout, SIGCONT
  (the broker evicts the member; on waking it rejoins: a rebalance).

Status changes (suspensions, revocations, lifts) are requested by event for a share of the
credentials as they appear, so they flow through later faults too. After the last fault the run
waits for the platform to settle and checks, from the databases and topics, what it must:
`ChaosReport` (the numbers, and `problems()`: every broken guarantee).

Used by tests/integration/test_chaos.py (bounded) and bench/chaos.py (longer, printed report).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from contracts.envelope import CE_ID
from contracts.topics import (
    CONSUMER_GROUPS,
    CREDENTIALS_ISSUED,
    DEAD_LETTER_TOPICS,
    STATUS_REQUESTS,
)
from contracts.v1.revocation import CredentialStatusChangeRequested
from deploy.cli.formats import DEFAULT_LMS_CONFIG, FORMATS, LmsTarget, encoders
from deploy.cli.simulator import AchievementRule, Plan, Send, plan
from deploy.local import runner
from deploy.tools.publish import event_record
from services.runtime.kafka import KafkaAccess
from vc.status import decode_list

SERVICE_NAMES = tuple(spec.name for spec in runner.SERVICES)
ISSUER = "open-university"
SEED_FILE = runner.ROOT / "deploy" / "config" / "seed" / "issuance.json"
# aiokafka's default session.timeout.ms (the services do not override it): a consumer silent for
# longer is evicted from its group by the broker.
SESSION_TIMEOUT_S = 10.0
SERVICE_ENV = {
    # Status lists re-published quickly, so the check after recovery does not wait a minute.
    "REVOCATION_LIST_TTL_S": "1",
    "REVOCATION_PUBLISH_INTERVAL_S": "0.5",
}


def fault_names() -> list[str]:
    """One round: every service killed, the broker and the database restarted, one pause each."""
    return [
        *(f"kill:{s}" for s in SERVICE_NAMES),
        "kafka",
        "postgres",
        *(f"pause:{s}" for s in SERVICE_NAMES),
    ]


@dataclass
class FaultResult:
    name: str
    at_s: float
    """Seconds since the run started."""
    back_s: float
    """Fault start until the component (and every service) answered ready again."""
    flowing_s: float | None
    """Fault start until the first credential that arrived on credential.issued after the
    component was back (None: none arrived afterwards)."""
    rejoined: bool | None = None
    """Pauses only: the consumer was evicted (`member_id was not recognized`) and rejoined."""


@dataclass
class ChaosReport:
    events_in: int = 0
    malformed_in: int = 0
    expected_credentials: int = 0
    credentials_db: int = 0
    credentials_on_topic: int = 0
    """Distinct credential ids of the run on credential.issued."""
    issued_records: int = 0
    """Records of the run on credential.issued (a re-published event counts each time)."""
    redelivered_records: int = 0
    """Records beyond the first of the same CloudEvents id (at-least-once delivery; allowed)."""
    duplicates: int = 0
    """Credentials issued twice: extra DB rows per (learner, achievement), or a second event id
    for one credential or one earned fact on the topic. Must be 0."""
    losses: int = 0
    """Expected credentials missing from the database or from the topic. Must be 0."""
    unexpected: int = 0
    """Credentials that the simulator's expectation does not contain. Must be 0."""
    revocation_entries_missing: int = 0
    """Issued credentials whose two status entries the revocation service did not register."""
    status_requested: int = 0
    status_applied: int = 0
    status_not_applied: int = 0
    list_mismatches: int = 0
    """Entries of the run whose bit in the published list disagrees with the audit."""
    dlq: int = 0
    dlq_unexpected: int = 0
    """Dead letters that are not one of the simulator's malformed records."""
    lag: dict[str, int] = field(default_factory=dict)
    faults: list[FaultResult] = field(default_factory=list)
    settle_s: float = 0.0
    """Last fault's end until every check held (database, topics, lists, lag)."""
    duration_s: float = 0.0

    def problems(self) -> list[str]:
        found = []
        if self.duplicates:
            found.append(f"{self.duplicates} duplicate credentials")
        if self.losses:
            found.append(f"{self.losses} credentials lost")
        if self.unexpected:
            found.append(f"{self.unexpected} unexpected credentials")
        if self.credentials_db != self.expected_credentials:
            found.append(f"{self.credentials_db} credentials stored, {self.expected_credentials} expected")
        if self.revocation_entries_missing:
            found.append(f"{self.revocation_entries_missing} credentials unknown to revocation")
        if self.status_applied != self.status_requested or self.status_not_applied:
            found.append(f"status changes: {self.status_applied} applied of {self.status_requested}")
        if self.list_mismatches:
            found.append(f"{self.list_mismatches} status list bits disagree with the audit")
        if self.dlq != self.malformed_in or self.dlq_unexpected:
            found.append(
                f"{self.dlq} dead letters ({self.dlq_unexpected} unexpected), {self.malformed_in} malformed"
            )
        if any(f.rejoined is False for f in self.faults):
            found.append("a paused consumer was not evicted from its group (no rebalance)")
        if any(self.lag.values()):
            found.append(f"consumer lag left: {self.lag}")
        return found

    def render(self) -> str:
        lines = [
            f"events in:            {self.events_in} LMS records ({self.malformed_in} malformed), "
            f"{self.status_requested} status change requests",
            f"credentials out:      {self.credentials_db} stored of {self.expected_credentials} expected; "
            f"{self.credentials_on_topic} distinct on credential.issued in {self.issued_records} records "
            f"({self.redelivered_records} redelivered with the same event id)",
            f"duplicates:           {self.duplicates}",
            f"losses:               {self.losses} (unexpected: {self.unexpected})",
            f"status changes:       {self.status_applied} applied once of {self.status_requested}; "
            f"list bits disagreeing with the audit: {self.list_mismatches}",
            f"DLQ:                  {self.dlq} ({self.malformed_in} malformed sent, "
            f"{self.dlq_unexpected} unexpected)",
            f"consumer lag:         {self.lag}",
            f"settled after:        {self.settle_s:.1f} s after the last fault; run {self.duration_s:.1f} s",
            "recovery per fault (fault -> back ready / -> next credential issued):",
        ]
        for f in self.faults:
            flowing = f"{f.flowing_s:.1f} s" if f.flowing_s is not None else "n/a (none issued after)"
            rebalance = {True: "   (evicted, rejoined: rebalance)", False: "   (NOT evicted)", None: ""}
            lines.append(
                f"  t={f.at_s:6.1f} s  {f.name:<20} back {f.back_s:5.1f} s   flowing {flowing}"
                + rebalance[f.rejoined]
            )
        return "\n".join(lines)


class RunWatcher:
    """Reads credential.issued and the dead-letter topics from where they ended at the start."""

    def __init__(self, access: KafkaAccess) -> None:
        self._consumer = AIOKafkaConsumer(**access.client_options(), enable_auto_commit=False)
        self.issued: list[ConsumerRecord[bytes, bytes]] = []
        self.dead: list[ConsumerRecord[bytes, bytes]] = []
        self.arrivals: list[float] = []
        """When each credential.issued record arrived (monotonic), in order."""
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> RunWatcher:
        await self._consumer.start()
        tps = []
        for topic in (CREDENTIALS_ISSUED.name, *DEAD_LETTER_TOPICS):
            partitions = self._consumer.partitions_for_topic(topic)
            if not partitions:
                await self._consumer._client.force_metadata_update()
                partitions = self._consumer.partitions_for_topic(topic) or set()
            tps += [TopicPartition(topic, p) for p in sorted(partitions)]
        self._consumer.assign(tps)
        ends = await self._consumer.end_offsets(tps)
        for tp in tps:
            self._consumer.seek(tp, ends[tp])
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=500)
            for tp, records in batches.items():
                if tp.topic == CREDENTIALS_ISSUED.name:
                    self.issued += records
                    self.arrivals += [time.monotonic()] * len(records)
                else:
                    self.dead += records

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()


def _header(record: ConsumerRecord[bytes, bytes], name: str) -> str:
    for key, value in record.headers or ():
        if key == name and value is not None:
            return str(value.decode("utf-8", "replace"))
    return ""


class ChaosRun:
    """One chaos run against a local stack; see the module docstring."""

    def __init__(
        self,
        stack: runner.Stack,
        *,
        learners: int,
        rounds: int = 1,
        seed: int | None = None,
        malformed_rate: float = 0.03,
        duplicate_rate: float = 0.08,
        status_share: float = 0.3,
        chunk_s: float = 4.0,
        settle_within_s: float = 240.0,
        faults: Sequence[str] | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        self.stack = stack
        self.rounds = rounds
        self.rng = random.Random(seed)
        self.learners = learners
        self.seed = seed
        self.malformed_rate = malformed_rate
        self.duplicate_rate = duplicate_rate
        self.status_share = status_share
        self.chunk_s = chunk_s
        self.settle_within_s = settle_within_s
        self.faults = list(faults) if faults is not None else fault_names()
        self.log = log
        self.report = ChaosReport()
        self.requests: list[CredentialStatusChangeRequested] = []
        self._requested_for: set[str] = set()
        """Credentials already considered for a status change (each is, once)."""
        self._run_credentials: set[str] = set()
        self._lifted: set[str] = set()
        self._fault_times: list[tuple[float, float]] = []
        self._started = 0.0

    # -- platform --------------------------------------------------------------------------

    async def ensure_platform(self) -> None:
        """Every service running as a process of this stack, and the demo issuer seeded."""
        for spec in runner.SERVICES:
            if not runner.alive(self.stack.pids.get(spec.name)):
                await asyncio.to_thread(runner.start_service, self.stack, spec, extra_env=SERVICE_ENV)
        await asyncio.to_thread(runner.seed, self.stack)

    def stop_services(self) -> None:
        for spec in reversed(runner.SERVICES):
            if pid := self.stack.pids.pop(spec.name, None):
                runner.terminate(pid, spec.name, 20)
        self.stack.save()

    def simulation(self) -> Plan:
        definitions = json.loads(SEED_FILE.read_text())["achievements"]
        rules = [AchievementRule.from_definition(d) for d in definitions if d["issuer_id"] == ISSUER]
        lms = LmsTarget.for_issuer(json.loads(DEFAULT_LMS_CONFIG.read_text()), ISSUER)
        return plan(
            rules,
            learners=self.learners,
            run_id=uuid.uuid4().hex[:8],
            seed=self.seed,
            duplicate_rate=self.duplicate_rate,
            malformed_rate=self.malformed_rate,
            encoders=encoders(FORMATS, lms),
        )

    # -- faults ----------------------------------------------------------------------------

    async def _all_ready(self) -> None:
        deadline = time.monotonic() + 120.0
        while time.monotonic() < deadline:
            if all(runner.service_ready(self.stack.ports[s]) for s in SERVICE_NAMES):
                return
            await asyncio.sleep(0.2)
        raise RuntimeError("services not ready after a fault")

    async def inject(self, name: str) -> bool | None:
        """Inject one fault and wait until every service is ready again. For a pause: whether
        the consumer found itself evicted and rejoined its group (the rebalance happened)."""
        kind, _, target = name.partition(":")
        if kind == "kill":
            runner.kill_service(self.stack, target)
            spec = next(s for s in runner.SERVICES if s.name == target)
            await asyncio.to_thread(runner.start_service, self.stack, spec, extra_env=SERVICE_ENV)
        elif kind == "kafka":
            await asyncio.to_thread(runner.restart_kafka, self.stack)
        elif kind == "postgres":
            await asyncio.to_thread(runner.restart_postgres, self.stack)
        elif kind == "pause":
            log_file = self.stack.logs / f"{target}.log"
            seen = log_file.stat().st_size
            pid = self.stack.pids[target]
            os.kill(pid, signal.SIGSTOP)
            try:
                await asyncio.sleep(SESSION_TIMEOUT_S + 3.0)
            finally:
                os.kill(pid, signal.SIGCONT)
            await self._all_ready()
            return await _rejoined(log_file, seen)
        else:
            raise ValueError(f"unknown fault {name!r}")
        await self._all_ready()
        return None

    # -- the stream ------------------------------------------------------------------------

    async def _send_chunk(self, producer: AIOKafkaProducer, simulation: Plan, sends: Sequence[Send]) -> None:
        """Publish `sends` spread over `chunk_s` seconds; each record is awaited, so a broker
        restart holds the stream (the idempotent producer retries) instead of losing it."""
        pause = self.chunk_s / max(len(sends), 1)
        for send in sends:
            encoder = simulation.encoder_of(send)
            source = simulation.source_of(send)
            if send.result is not None:
                value, headers = encoder.encode(send.result, source=source, event_id=send.event_id)
                learner = send.result.learner_id
            else:
                assert send.malformed is not None
                value = send.malformed.value
                headers = encoder.encode_malformed(send.malformed, source=source, event_id=send.event_id)
                learner = send.malformed.learner_id
            key = simulation.learner_refs.get(learner, learner).encode()
            await producer.send_and_wait(encoder.topic, value=value, key=key, headers=headers)
            await asyncio.sleep(pause)

    async def _request_status_changes(self, producer: AIOKafkaProducer, watcher: RunWatcher) -> None:
        """Suspend or revoke a share of the run's new credentials; lift some earlier suspensions."""
        new: list[str] = []
        for record in watcher.issued:
            credential_id = json.loads(record.value or b"{}").get("credential_id", "")
            if credential_id in self._run_credentials and credential_id not in self._requested_for:
                self._requested_for.add(credential_id)
                new.append(credential_id)
        suspended = [r for r in self.requests if r.purpose == "suspension" and r.set]
        lifts = [
            r.credential_id
            for r in suspended
            if self.rng.random() < 0.3 and r.credential_id not in self._lifted
        ]
        changes: list[tuple[str, str, bool]] = [(c, "suspension", False) for c in lifts]
        self._lifted.update(lifts)
        for credential_id in new:
            if self.rng.random() < self.status_share:
                changes.append((credential_id, self.rng.choice(["revocation", "suspension"]), True))
        for credential_id, purpose, set_bit in changes:
            request = CredentialStatusChangeRequested(
                request_id=f"chaos-{uuid.uuid4()}",
                credential_id=credential_id,
                issuer_id=ISSUER,
                purpose=purpose,
                set=set_bit,
                reason_code="chaos-test",
                actor="chaos-driver",
            )
            value, headers = event_record(request, source="urn:credstream:chaos")
            await producer.send_and_wait(
                STATUS_REQUESTS.name, value=value, key=credential_id.encode(), headers=headers
            )
            self.requests.append(request)

    # -- the run ---------------------------------------------------------------------------

    async def run(self) -> ChaosReport:
        self._started = time.monotonic()
        await self.ensure_platform()
        simulation = self.simulation()
        faults = [f for _ in range(self.rounds) for f in self.faults]
        self.rng.shuffle(faults)
        chunks = _split(simulation.sends, len(faults) + 1)
        self.report.events_in = len(simulation.sends)
        self.report.malformed_in = simulation.expected_dlq
        self.report.expected_credentials = len(simulation.expected_earned)
        refs = set(simulation.learners)
        # Start from a quiet platform: what earlier work left in the topics is consumed (and, if
        # refused, dead-lettered) before this run's checks start counting.
        deadline = time.monotonic() + 120.0
        while any((await consumer_lag(self.stack.kafka_admin())).values()):
            if time.monotonic() > deadline:
                raise RuntimeError("the platform did not catch up with earlier records")
            await asyncio.sleep(1.0)
        self.log(f"run {simulation.run_id}: {len(simulation.sends)} records, {len(faults)} faults")

        watcher = await RunWatcher(self.stack.kafka_admin()).start()
        # The driver plays every LMS and the operator at once: the stack's Kafka super user.
        producer = AIOKafkaProducer(
            **self.stack.kafka_admin().client_options(),
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=120_000,
        )
        await producer.start()
        db = Database(self.stack)
        try:
            for n, fault in enumerate([*faults, None]):
                sending = asyncio.create_task(self._send_chunk(producer, simulation, chunks[n]))
                if fault is not None:
                    await asyncio.sleep(self.rng.uniform(0.2, self.chunk_s * 0.8))
                    at = time.monotonic()
                    self.log(f"fault {n + 1}/{len(faults)}: {fault}")
                    rejoined = await self.inject(fault)
                    back = time.monotonic()
                    self.report.faults.append(
                        FaultResult(fault, at - self._started, back - at, None, rejoined)
                    )
                    self._fault_times.append((at, back))
                await sending
                self._run_credentials |= await db.credential_ids(refs)
                await self._request_status_changes(producer, watcher)
            faults_done = time.monotonic()
            await self._settle(db, watcher, simulation, producer)
            self.report.settle_s = time.monotonic() - faults_done
            self._note_flow(watcher)
            await self.check(db, watcher, simulation)
        finally:
            await producer.stop()
            await watcher.stop()
        self.report.duration_s = time.monotonic() - self._started
        return self.report

    def _note_flow(self, watcher: RunWatcher) -> None:
        """Per fault: the first credential that arrived after the component was back."""
        for result, (at, back) in zip(self.report.faults, self._fault_times, strict=True):
            after = next((t for t in watcher.arrivals if t > back), None)
            result.flowing_s = after - at if after is not None else None

    async def _settle(
        self, db: Database, watcher: RunWatcher, simulation: Plan, producer: AIOKafkaProducer
    ) -> None:
        """Wait until every expected credential exists, every status change is in the audit and
        every consumer group has caught up; status changes for late credentials are requested
        on the way (they must flow too)."""
        refs = set(simulation.learners)
        deadline = time.monotonic() + self.settle_within_s
        while time.monotonic() < deadline:
            self._run_credentials |= await db.credential_ids(refs)
            await self._request_status_changes(producer, watcher)
            done = (
                len(self._run_credentials) >= len(simulation.expected_earned)
                and len(self._requested_for) >= len(self._run_credentials)
                and await db.audited([r.request_id for r in self.requests]) == len(self.requests)
                and len(watcher.dead) >= simulation.expected_dlq
                and not any((await consumer_lag(self.stack.kafka_admin())).values())
            )
            if done:
                await asyncio.sleep(2.0)  # an extra record (a duplicate) would show up now
                return
            await asyncio.sleep(1.0)
        self.log("did not settle in time; checking what there is")

    async def check(self, db: Database, watcher: RunWatcher, simulation: Plan) -> None:
        r = self.report
        refs = set(simulation.learners)
        rows = await db.credentials(refs)
        pairs: dict[tuple[str, str], list[str]] = {}
        for row in rows:
            pairs.setdefault((row["learner_id"], row["achievement_id"]), []).append(row["credential_id"])
        r.credentials_db = len(rows)
        r.duplicates = sum(len(ids) - 1 for ids in pairs.values())
        r.losses = len(simulation.expected_earned - set(pairs))
        r.unexpected = len(set(pairs) - simulation.expected_earned)

        ids = {row["credential_id"] for row in rows}
        earned_ids = {row["earned_id"] for row in rows}
        event_ids: dict[str, set[str]] = {}
        ids_by_earned: dict[str, set[str]] = {}
        records = 0
        for record in watcher.issued:
            payload = json.loads(record.value or b"{}")
            if payload.get("credential_id") in ids or payload.get("earned_id") in earned_ids:
                records += 1
                event_ids.setdefault(payload["credential_id"], set()).add(_header(record, CE_ID))
                ids_by_earned.setdefault(payload.get("earned_id") or "", set()).add(payload["credential_id"])
        r.issued_records = records
        r.credentials_on_topic = len(set(event_ids) & ids)
        r.redelivered_records = records - sum(len(e) for e in event_ids.values())
        r.duplicates += sum(len(e) - 1 for e in event_ids.values())
        r.duplicates += sum(len(c) - 1 for e, c in ids_by_earned.items() if e)
        r.losses += len(ids - set(event_ids))
        r.revocation_entries_missing = len(ids) - await db.credentials_with_entries(ids)

        request_ids = [q.request_id for q in self.requests]
        audit = await db.audit(request_ids)
        r.status_requested = len(self.requests)
        r.status_applied = sum(1 for a in audit if a["outcome"] == "applied")
        r.status_not_applied = len(audit) - r.status_applied
        r.list_mismatches = await self._list_mismatches(db, ids)

        malformed = {s.event_id for s in simulation.sends if s.malformed is not None}
        r.dlq = len(watcher.dead)
        r.dlq_unexpected = sum(1 for d in watcher.dead if _header(d, CE_ID) not in malformed)
        if len({_header(d, CE_ID) for d in watcher.dead}) != len(watcher.dead):
            r.dlq_unexpected += len(watcher.dead) - len({_header(d, CE_ID) for d in watcher.dead})
        r.lag = await consumer_lag(self.stack.kafka_admin())

    async def _list_mismatches(self, db: Database, credential_ids: set[str]) -> int:
        """Compare every entry of the run's credentials with its bit in the served list: the bit
        must be set exactly when the audit's last applied change for it set it."""
        entries = await db.entries(credential_ids)
        expected = await db.expected_bits(credential_ids)
        urls = await db.list_urls({e["list_id"] for e in entries})
        mismatches = 0
        async with httpx.AsyncClient(timeout=30) as client:
            for _ in range(20):  # the publisher re-signs on its interval; give it a few
                bits = {}
                for list_id, url in urls.items():
                    response = await client.get(url)
                    response.raise_for_status()
                    bits[list_id] = decode_list(response.json()["credentialSubject"]["encodedList"])
                mismatches = sum(
                    1
                    for e in entries
                    if bool(bits[e["list_id"]].get(e["idx"]))
                    != expected.get((e["credential_id"], e["purpose"]), False)
                )
                if not mismatches:
                    break
                await asyncio.sleep(1.0)
        return mismatches


REJOIN_MARK = "member_id was not recognized"
"""What aiokafka logs when the broker evicted the member and it rejoins (group_coordinator.py)."""


async def _rejoined(log_file: Path, offset: int) -> bool:
    """Did the service log its eviction and rejoin after `offset`? (Waits up to 20 s.)"""
    deadline = time.monotonic() + 20.0
    while time.monotonic() < deadline:
        if REJOIN_MARK.encode() in (await asyncio.to_thread(log_file.read_bytes))[offset:]:
            return True
        await asyncio.sleep(0.5)
    return False


def _split(sends: Sequence[Send], parts: int) -> list[list[Send]]:
    size = -(-len(sends) // parts)
    chunks = [list(sends[i * size : (i + 1) * size]) for i in range(parts)]
    return chunks


class Database:
    """The checks' read-only queries, as the superuser, each on a fresh connection: PostgreSQL is
    restarted during the run."""

    def __init__(self, stack: runner.Stack) -> None:
        self.url = stack.database_url()

    async def _fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        for attempt in range(60):
            try:
                conn = await asyncpg.connect(self.url)
                try:
                    return list(await conn.fetch(query, *args))
                finally:
                    await conn.close()
            except (OSError, asyncpg.PostgresError):
                if attempt == 59:
                    raise
                await asyncio.sleep(1.0)
        return []

    async def credentials(self, refs: set[str]) -> list[asyncpg.Record]:
        return await self._fetch(
            "SELECT credential_id, learner_id, achievement_id, earned_id FROM issuance.credentials "
            "WHERE issuer_id = $1 AND learner_id = ANY($2)",
            ISSUER,
            list(refs),
        )

    async def credential_ids(self, refs: set[str]) -> set[str]:
        return {r["credential_id"] for r in await self.credentials(refs)}

    async def credentials_with_entries(self, ids: set[str]) -> int:
        rows = await self._fetch(
            "SELECT credential_id FROM revocation.entries WHERE credential_id = ANY($1) "
            "GROUP BY credential_id HAVING count(*) = 2",
            list(ids),
        )
        return len(rows)

    async def audited(self, request_ids: list[str]) -> int:
        rows = await self._fetch(
            "SELECT count(*) AS n FROM revocation.status_audit WHERE request_id = ANY($1)", request_ids
        )
        return int(rows[0]["n"])

    async def audit(self, request_ids: list[str]) -> list[asyncpg.Record]:
        return await self._fetch(
            "SELECT request_id, outcome FROM revocation.status_audit WHERE request_id = ANY($1)", request_ids
        )

    async def entries(self, ids: set[str]) -> list[asyncpg.Record]:
        return await self._fetch(
            "SELECT credential_id, purpose, list_id, idx FROM revocation.entries "
            "WHERE credential_id = ANY($1)",
            list(ids),
        )

    async def expected_bits(self, ids: set[str]) -> dict[tuple[str, str], bool]:
        """The bit each (credential, purpose) must have: the last applied change's value."""
        rows = await self._fetch(
            "SELECT DISTINCT ON (credential_id, purpose) credential_id, purpose, set_bit "
            "FROM revocation.status_audit WHERE credential_id = ANY($1) AND outcome = 'applied' "
            "ORDER BY credential_id, purpose, seq DESC",
            list(ids),
        )
        return {(r["credential_id"], r["purpose"]): bool(r["set_bit"]) for r in rows}

    async def list_urls(self, list_ids: set[str]) -> dict[str, str]:
        rows = await self._fetch(
            "SELECT list_id, url FROM revocation.status_lists WHERE list_id = ANY($1)", list(list_ids)
        )
        return {r["list_id"]: r["url"] for r in rows}


async def consumer_lag(access: KafkaAccess) -> dict[str, int]:
    """Per service consumer group: end offset minus committed offset, summed over the
    partitions of the topics it reads (a partition without a commit counts from its start)."""
    admin = AIOKafkaAdminClient(**access.client_options())
    consumer = AIOKafkaConsumer(**access.client_options(), enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        lag: dict[str, int] = {}
        for group, topics in CONSUMER_GROUPS.items():
            committed = await admin.list_consumer_group_offsets(group)
            tps = [
                TopicPartition(t.name, p)
                for t in topics
                for p in sorted(consumer.partitions_for_topic(t.name) or await _partitions(consumer, t.name))
            ]
            ends = await consumer.end_offsets(tps)
            starts = await consumer.beginning_offsets(tps)
            total = 0
            for tp in tps:
                at = committed[tp].offset if tp in committed and committed[tp].offset >= 0 else starts[tp]
                total += max(0, ends[tp] - at)
            lag[group] = total
        return lag
    finally:
        await consumer.stop()
        await admin.close()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()
