"""Use cases of the assessment service. No FastStream and no SQL here."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from contracts.ids import earned_id
from contracts.topics import ACHIEVEMENTS_EARNED
from contracts.v1.assessment import (
    AchievementDefined,
    AchievementEarned,
    AssessmentResultSubmitted,
    EvidenceRef,
    LearnerRef,
)
from services.assessment.adapters.common import Normalised
from services.assessment.domain import Achievement, Criteria, Learner, Result, evidence
from services.runtime.outbox import EventOutbox


class AssessmentStore(Protocol):
    """What the use cases read and write: achievements with their criteria, learners, results and
    awards (services/assessment/repository.py; the unit tests' in-memory fake)."""

    async def upsert_achievement(self, *, achievement: Achievement) -> bool: ...
    async def achievements_requiring(
        self, *, issuer_ids: Collection[str], activity_ids: Collection[str]
    ) -> list[Achievement]: ...
    async def upsert_learners(self, learners: Sequence[tuple[str, Learner]]) -> None: ...
    async def insert_results(
        self, results: Sequence[tuple[str, str, Result, int | None, str, Any, str | None]]
    ) -> set[tuple[str, str]]: ...
    async def results_of(
        self, *, learners: Collection[tuple[str, str]], activity_ids: Collection[str]
    ) -> dict[tuple[str, str], list[Result]]: ...
    async def learners_with_results(
        self, *, issuer_id: str, activity_ids: tuple[str, ...]
    ) -> list[Learner]: ...
    async def earned_among(self, candidates: Sequence[tuple[str, str, str]]) -> set[tuple[str, str, str]]: ...
    async def insert_earned(self, events: Sequence[AchievementEarned]) -> set[str]: ...


@dataclass(frozen=True, slots=True)
class Submission:
    """One result to record: in credstream's contract, with the payload it came from and the LMS
    that sent it (None for results sent in credstream's own contract)."""

    result: AssessmentResultSubmitted
    raw: bytes
    source_format: str
    lms_id: str | None = None


async def record_results(
    submissions: Sequence[Submission], *, repo: AssessmentStore, outbox: EventOutbox
) -> list[str]:
    """Store results and award every achievement they complete, set by set (a batch of results
    costs a few statements, not a few per result).

    Idempotent: a result id already stored for the issuer changes nothing. Returns the earned ids
    published (empty for most results). When one learner has several results in the batch, the
    award is judged on all of them together; the evidence is the best passing result of each
    activity either way.
    """
    if not submissions:
        return []
    # First statement on purpose, in one order: the upserts row-lock the learners until commit, so
    # results of one learner arriving at once (two topics, HTTP beside Kafka, two instances) are
    # evaluated one after the other, each seeing the other's results (READ COMMITTED takes a new
    # snapshot per statement); otherwise each could miss the other and the award be lost. The
    # order (by issuer and learner) keeps two batches naming the same learners from deadlocking.
    ordered = sorted(submissions, key=lambda s: (s.result.issuer_id, s.result.learner.id))
    await repo.upsert_learners([(s.result.issuer_id, learner_of(s.result)) for s in ordered])
    stored = await repo.insert_results(
        [
            (
                s.result.issuer_id,
                s.result.learner.id,
                result_of(s.result),
                s.result.attempt,
                s.source_format,
                json.loads(s.raw),
                s.lms_id,
            )
            for s in ordered
        ]
    )
    fresh = [s for s in ordered if (s.result.issuer_id, s.result.result_id) in stored]
    if not fresh:
        return []
    requiring = await repo.achievements_requiring(
        issuer_ids={s.result.issuer_id for s in fresh}, activity_ids={s.result.activity_id for s in fresh}
    )
    learners: dict[tuple[str, str], Learner] = {}
    for s in fresh:
        learners[(s.result.issuer_id, s.result.learner.id)] = learner_of(s.result)
    candidates = {
        (s.result.issuer_id, s.result.learner.id, achievement.achievement_id): achievement
        for s in fresh
        for achievement in requiring
        if achievement.issuer_id == s.result.issuer_id
        and s.result.activity_id in achievement.criteria.required_activity_ids
    }
    return await _award_where_met(candidates, learners, repo=repo, outbox=outbox)


async def record_normalised(
    results: list[Normalised],
    *,
    lms_id: str,
    repo: AssessmentStore,
    outbox: EventOutbox,
) -> list[str]:
    """Record results an adapter normalised from one LMS payload, in the caller's transaction
    (so a payload is applied entirely or not at all). The result ids (`xapi:<statement id>`,
    `caliper:<event id>`, `lti:<derived>`) make a re-sent payload a no-op, whether it came over
    Kafka or HTTP. Returns the earned ids published."""
    return await record_results(
        [Submission(n.result, n.raw, n.source_format, lms_id) for n in results], repo=repo, outbox=outbox
    )


def learner_of(submitted: AssessmentResultSubmitted) -> Learner:
    return Learner(
        learner_id=submitted.learner.id,
        email=submitted.learner.email,
        name=submitted.learner.name,
        did=submitted.learner.did,
    )


def result_of(submitted: AssessmentResultSubmitted) -> Result:
    return Result(
        result_id=submitted.result_id,
        activity_id=submitted.activity_id,
        score_scaled=submitted.score.normalised() if submitted.score else None,
        success=submitted.success,
        completion=submitted.completion,
        occurred_at=submitted.occurred_at,
    )


async def define_achievement(
    defined: AchievementDefined, *, repo: AssessmentStore, outbox: EventOutbox
) -> list[str]:
    """Keep the newest definition, then award it to learners whose stored results already
    meet it (results may arrive before the definition). Returns the earned ids published."""
    achievement = Achievement(
        achievement_id=defined.achievement_id,
        issuer_id=defined.issuer_id,
        revision=defined.revision,
        name=defined.name,
        criteria=Criteria(
            required_activity_ids=tuple(dict.fromkeys(defined.criteria.required_activity_ids)),
            min_scaled_score=defined.criteria.min_scaled_score,
            require_success=defined.criteria.require_success,
        ),
        status=defined.status,
    )
    if not await repo.upsert_achievement(achievement=achievement) or achievement.status != "active":
        return []
    learners = {
        (achievement.issuer_id, learner.learner_id): learner
        for learner in await repo.learners_with_results(
            issuer_id=achievement.issuer_id, activity_ids=achievement.criteria.required_activity_ids
        )
    }
    candidates = {(issuer, learner, achievement.achievement_id): achievement for issuer, learner in learners}
    return await _award_where_met(candidates, learners, repo=repo, outbox=outbox)


async def _award_where_met(
    candidates: dict[tuple[str, str, str], Achievement],
    learners: dict[tuple[str, str], Learner],
    *,
    repo: AssessmentStore,
    outbox: EventOutbox,
) -> list[str]:
    """Award each (issuer, learner, achievement) candidate whose stored results meet the
    achievement's criteria and that the learner does not hold yet; publish achievement.earned."""
    if not candidates:
        return []
    held = await repo.earned_among(list(candidates))
    pending = {key: a for key, a in candidates.items() if key not in held}
    if not pending:
        return []
    results = await repo.results_of(
        learners={(issuer, learner) for issuer, learner, _ in pending},
        activity_ids={activity for a in pending.values() for activity in a.criteria.required_activity_ids},
    )
    earned_at = datetime.now(UTC)
    events = []
    for (issuer_id, learner_id, achievement_id), achievement in pending.items():
        chosen = evidence(achievement.criteria, results.get((issuer_id, learner_id), []))
        if chosen is None:
            continue
        learner = learners[(issuer_id, learner_id)]
        events.append(
            AchievementEarned(
                earned_id=earned_id(
                    issuer_id=issuer_id, achievement_id=achievement_id, learner_id=learner_id
                ),
                issuer_id=issuer_id,
                achievement_id=achievement_id,
                achievement_revision=achievement.revision,
                learner=LearnerRef(id=learner_id, email=learner.email, name=learner.name, did=learner.did),
                earned_at=earned_at,
                evidence=[
                    EvidenceRef(
                        result_id=r.result_id,
                        activity_id=r.activity_id,
                        score_scaled=r.score_scaled,
                        success=r.success,
                        occurred_at=r.occurred_at,
                    )
                    for r in chosen
                ],
            )
        )
    # The unique key decides: an award another transaction recorded first is not published again.
    recorded = await repo.insert_earned(events)
    published = [event for event in events if event.earned_id in recorded]
    await outbox.enqueue(ACHIEVEMENTS_EARNED, published)
    return [event.earned_id for event in published]
