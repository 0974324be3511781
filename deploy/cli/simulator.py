"""The LMS simulator: a realistic stream of assessment results and what it should lead to.

`plan()` is pure: from the achievements' criteria (read from the issuance admin API or the seed
file) it generates, for a number of learners, passes, fails, re-takes (a fail, then a pass),
duplicates (the same record twice) and a sprinkling of malformed records, and computes what the
platform must make of them: one `achievement.earned` per distinct (learner, achievement) whose
criteria the generated results meet, and one dead letter per malformed record.

The expectation is computed from the generated results with the documented policy
(docs/assessment.md: a required activity passes with a result that did not fail, reaches the
minimum score and reports success where required), never from what the generator meant to do.

Encoders turn a result into a Kafka record; `ContractEncoder` writes credstream's own contract
(`AssessmentResultSubmitted` on `credstream.assessment.results.v1`); deploy/cli/formats.py has the
xAPI, Caliper and LTI AGS encoders. A run may mix formats: each learner is given one (round
robin over the encoders), so all of a learner's records, and the learner reference the platform
derives from them, come in one format. Each encoder says how the platform will read a result
(`observed`), and the expectation is computed from that.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from contracts.envelope import CloudEventAttributes, Headers
from contracts.topics import ASSESSMENT_RESULTS
from contracts.v1.assessment import AssessmentResultSubmitted, LearnerRef, Score
from deploy.tools.publish import event_record

MALFORMED_KINDS = ("invalid_json", "missing_field", "wrong_type")


@dataclass(frozen=True)
class AchievementRule:
    """One achievement's criteria, as the issuance admin API or the seed file defines them."""

    achievement_id: str
    issuer_id: str
    required_activity_ids: tuple[str, ...]
    min_scaled_score: float | None = None
    require_success: bool = False

    @classmethod
    def from_definition(cls, definition: dict[str, Any]) -> AchievementRule:
        criteria = definition["criteria"]
        return cls(
            achievement_id=definition["achievement_id"],
            issuer_id=definition["issuer_id"],
            required_activity_ids=tuple(criteria["required_activity_ids"]),
            min_scaled_score=criteria.get("min_scaled_score"),
            require_success=bool(criteria.get("require_success", False)),
        )

    def passed_by(self, result: SimulatedResult) -> bool:
        """Does this result, as the platform reads it, pass one of the required activities?
        (docs/assessment.md: it did not fail, reaches the minimum score, reports success where
        required, and shows a positive signal when neither is required.)"""
        if result.activity_id not in self.required_activity_ids:
            return False
        if result.success is False or result.completion is False:
            return False
        if self.require_success and result.success is not True:
            return False
        if self.min_scaled_score is not None:
            return result.score >= self.min_scaled_score
        return True  # every simulated result has a score

    @property
    def pass_mark(self) -> float:
        return self.min_scaled_score if self.min_scaled_score is not None else 0.5


@dataclass(frozen=True)
class SimulatedResult:
    """One valid assessment result as the LMS reports it (every one has a score and success).

    An encoder's `observed` gives the same result as the platform reads it: the learner
    reference it derives, and `success`/`completion` None where the format reports none."""

    result_id: str
    issuer_id: str
    learner_id: str
    email: str | None
    activity_id: str
    score: float
    success: bool | None
    attempt: int
    occurred_at: datetime
    completion: bool | None = True


@dataclass(frozen=True)
class MalformedRecord:
    """A record that must be dead-lettered: its raw bytes and why it is wrong."""

    kind: str
    learner_id: str
    value: bytes
    activity: str = ""


@dataclass(frozen=True)
class Send:
    """One record to publish: a valid result (possibly a duplicate) or a malformed one."""

    result: SimulatedResult | None = None
    malformed: MalformedRecord | None = None
    duplicate_of: str | None = None
    """Set on a duplicate: the CloudEvents id of the record it repeats (the same record twice)."""
    event_id: str = ""
    format: str = "credstream"


@dataclass
class Plan:
    """What the simulator sends and what the platform should make of it."""

    run_id: str
    source: str
    sends: list[Send]
    learners: list[str]
    """The learner references the platform will see (what `achievement.earned` names)."""
    expected_earned: set[tuple[str, str]]
    counts: dict[str, int] = field(default_factory=dict)
    encoders: dict[str, ResultEncoder] = field(default_factory=dict)
    learner_refs: dict[str, str] = field(default_factory=dict)
    """Simulated learner id -> the learner reference the platform derives."""
    learner_formats: dict[str, str] = field(default_factory=dict)
    """Simulated learner id -> the format all of its records are sent in."""

    @property
    def expected_dlq(self) -> int:
        return sum(1 for s in self.sends if s.malformed is not None)

    @property
    def sources(self) -> set[str]:
        """The `ce_source`s of the run's records: the run's own and those of the LMSs used."""
        return {self.source} | {e.source for e in self.encoders.values() if e.source is not None}

    def encoder_of(self, send: Send) -> ResultEncoder:
        return self.encoders.get(send.format) or ContractEncoder()

    def source_of(self, send: Send) -> str:
        return self.encoder_of(send).source or self.source

    def per_format(self) -> dict[str, dict[str, int]]:
        """Learners, records and malformed records per format."""
        out = {name: {"learners": 0, "records": 0, "malformed": 0} for name in self.encoders}
        for name in self.learner_formats.values():
            out[name]["learners"] += 1
        for send in self.sends:
            out[send.format]["records"] += 1
            out[send.format]["malformed"] += send.malformed is not None
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "source": self.source,
            "learners": len(self.learners),
            "records": len(self.sends),
            **self.counts,
            "formats": self.per_format(),
            "expected_earned": len(self.expected_earned),
            "expected_dlq": self.expected_dlq,
        }


class ResultEncoder(Protocol):
    """Turns a simulated result into the value and headers of one Kafka record on `topic`."""

    format: str
    topic: str
    source: str | None
    """The `ce_source` of its records (an LMS's configured source); None: the run's own."""

    def learner_ref(self, learner_id: str) -> str:
        """The learner reference the platform derives for a simulated learner."""
        ...

    def observed(self, result: SimulatedResult) -> SimulatedResult:
        """The result as the platform will read it from this format."""
        ...

    def encode(self, result: SimulatedResult, *, source: str, event_id: str) -> tuple[bytes, Headers]: ...

    def encode_malformed(self, record: MalformedRecord, *, source: str, event_id: str) -> Headers: ...

    def malformed_value(
        self, kind: str, rng: random.Random, *, issuer_id: str, learner_id: str, activity: str
    ) -> bytes:
        """A record body of `kind` (MALFORMED_KINDS) that the platform must dead-letter."""
        ...


class ContractEncoder:
    """credstream's own contract: `AssessmentResultSubmitted` in CloudEvents binary mode."""

    format = "credstream"
    topic = ASSESSMENT_RESULTS.name
    source: str | None = None

    def learner_ref(self, learner_id: str) -> str:
        return learner_id

    def observed(self, result: SimulatedResult) -> SimulatedResult:
        return result

    def malformed_value(
        self, kind: str, rng: random.Random, *, issuer_id: str, learner_id: str, activity: str
    ) -> bytes:
        return _malformed(kind, rng, issuer_id=issuer_id, learner_id=learner_id, activity=activity)

    def encode(self, result: SimulatedResult, *, source: str, event_id: str) -> tuple[bytes, Headers]:
        event = AssessmentResultSubmitted(
            result_id=result.result_id,
            issuer_id=result.issuer_id,
            learner=LearnerRef(id=result.learner_id, email=result.email),
            activity_id=result.activity_id,
            score=Score(scaled=result.score),
            success=result.success,
            completion=True,
            attempt=result.attempt,
            occurred_at=result.occurred_at,
        )
        return event_record(event, source=source, event_id=event_id, subject=result.learner_id)

    def encode_malformed(self, record: MalformedRecord, *, source: str, event_id: str) -> Headers:
        # Valid CloudEvents headers around a bad body: the consumer must dead-letter the body.
        return CloudEventAttributes(
            id=event_id,
            source=source,
            type=AssessmentResultSubmitted.event_type,
            time=datetime.now(UTC),
            subject=record.learner_id,
        ).to_headers()


def _malformed(kind: str, rng: random.Random, *, issuer_id: str, learner_id: str, activity: str) -> bytes:
    body: dict[str, Any] = {
        "result_id": f"{learner_id}-bad-{rng.randrange(10**9)}",
        "issuer_id": issuer_id,
        "learner": {"id": learner_id},
        "activity_id": activity,
        "score": {"scaled": 0.9},
        "success": True,
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    if kind == "invalid_json":
        return json.dumps(body).encode()[:-7]  # cut off mid-document
    if kind == "missing_field":
        del body["learner"]
    else:  # wrong_type
        body["score"] = {"scaled": "ninety percent"}
        body["attempt"] = "second"
    return json.dumps(body).encode()


def plan(
    rules: Iterable[AchievementRule],
    *,
    learners: int,
    run_id: str,
    seed: int | None = None,
    extra_courses: int = 2,
    enrol_rate: float = 0.8,
    fail_rate: float = 0.25,
    retake_rate: float = 0.6,
    abandon_rate: float = 0.1,
    duplicate_rate: float = 0.05,
    malformed_rate: float = 0.02,
    start: datetime | None = None,
    encoders: Sequence[ResultEncoder] | None = None,
) -> Plan:
    """Generate a run for `learners` learners over `rules` (plus `extra_courses` activities that
    no achievement requires, which must earn nothing).

    Per learner and enrolled achievement, each required activity is passed, failed (and, with
    `retake_rate`, re-taken and passed), or abandoned (never attempted). Records are ordered by
    time; `duplicate_rate` of them are sent twice and `malformed_rate` records are added.
    Learner n is sent in the format of `encoders[n % len(encoders)]` (default: the contract).
    """
    formats = {e.format: e for e in (encoders or [ContractEncoder()])}
    chosen = list(formats.values())
    rules = list(rules)
    if not rules:
        raise ValueError("the simulator needs at least one achievement with criteria")
    rng = random.Random(seed)
    issuer_id = rules[0].issuer_id
    origin = start or datetime.now(UTC) - timedelta(days=30)
    extra = [f"https://lms.simulator.example/{run_id}/courses/elective-{n}" for n in range(extra_courses)]
    counts = {"passes": 0, "fails": 0, "retakes": 0, "duplicates": 0, "malformed": 0}
    results: list[SimulatedResult] = []
    learner_ids = [f"sim-{run_id}-{n:05d}" for n in range(learners)]
    encoder_of = {learner: chosen[n % len(chosen)] for n, learner in enumerate(learner_ids)}

    def attempt(learner: str, activity: str, n: int, *, passed: bool, mark: float, at: datetime) -> None:
        score = rng.uniform(mark, 1.0) if passed else rng.uniform(0.0, max(0.0, mark - 0.05))
        results.append(
            SimulatedResult(
                result_id=f"{learner}:{activity.rsplit('/', 2)[-2]}-{activity.rsplit('/', 1)[-1]}:{n}",
                issuer_id=issuer_id,
                learner_id=learner,
                email=f"{learner}@learners.example",
                activity_id=activity,
                score=round(score, 4),
                success=passed,
                attempt=n,
                occurred_at=at,
            )
        )
        counts["passes" if passed else "fails"] += 1

    for learner in learner_ids:
        clock = origin + timedelta(minutes=rng.randrange(60 * 24))
        activities: dict[str, float] = {}
        for rule in rules:
            if rng.random() < enrol_rate:
                for activity in rule.required_activity_ids:
                    activities[activity] = max(activities.get(activity, 0.0), rule.pass_mark)
        for activity in extra:
            if rng.random() < enrol_rate / 2:
                activities[activity] = 0.5
        for activity, mark in activities.items():
            clock += timedelta(hours=rng.uniform(1, 72))
            if rng.random() < abandon_rate:
                continue
            if rng.random() < fail_rate:
                attempt(learner, activity, 1, passed=False, mark=mark, at=clock)
                if rng.random() < retake_rate:
                    counts["retakes"] += 1
                    clock += timedelta(days=rng.uniform(1, 14))
                    attempt(learner, activity, 2, passed=True, mark=mark, at=clock)
            else:
                attempt(learner, activity, 1, passed=True, mark=mark, at=clock)

    results.sort(key=lambda r: r.occurred_at)
    source = f"urn:credstream:lms-simulator:{run_id}"
    sends: list[Send] = []
    for n, result in enumerate(results):
        event_id = f"{run_id}-{n}"
        name = encoder_of[result.learner_id].format
        sends.append(Send(result=result, event_id=event_id, format=name))
        if rng.random() < duplicate_rate:
            counts["duplicates"] += 1
            sends.append(Send(result=result, duplicate_of=event_id, event_id=event_id, format=name))
    bad = max(1, round(len(results) * malformed_rate)) if malformed_rate > 0 else 0
    for n in range(bad):
        kind = MALFORMED_KINDS[n % len(MALFORMED_KINDS)]
        learner = rng.choice(learner_ids) if learner_ids else f"sim-{run_id}-x"
        encoder = encoder_of.get(learner, chosen[0])
        activity = extra[0] if extra else f"https://lms.simulator.example/{run_id}/courses/x"
        value = encoder.malformed_value(kind, rng, issuer_id=issuer_id, learner_id=learner, activity=activity)
        position = rng.randrange(len(sends) + 1)
        sends.insert(
            position,
            Send(
                malformed=MalformedRecord(kind, learner, value, activity),
                event_id=f"{run_id}-bad-{n}",
                format=encoder.format,
            ),
        )
    counts["malformed"] = bad
    observed = [encoder_of[r.learner_id].observed(r) for r in results]
    return Plan(
        run_id=run_id,
        source=source,
        sends=sends,
        learners=[encoder_of[learner].learner_ref(learner) for learner in learner_ids],
        expected_earned=expected_earned(rules, observed),
        counts=counts,
        encoders=formats,
        learner_refs={learner: encoder_of[learner].learner_ref(learner) for learner in learner_ids},
        learner_formats={learner: encoder_of[learner].format for learner in learner_ids},
    )


def expected_earned(
    rules: Iterable[AchievementRule], results: Iterable[SimulatedResult]
) -> set[tuple[str, str]]:
    """Distinct (learner, achievement) pairs whose every required activity has a passing result."""
    by_learner: dict[str, list[SimulatedResult]] = {}
    for result in results:
        by_learner.setdefault(result.learner_id, []).append(result)
    rules = list(rules)
    earned: set[tuple[str, str]] = set()
    for learner, own in by_learner.items():
        for rule in rules:
            required = rule.required_activity_ids
            if all(any(r.activity_id == a and rule.passed_by(r) for r in own) for a in required):
                earned.add((learner, rule.achievement_id))
    return earned
