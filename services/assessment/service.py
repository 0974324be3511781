"""Use cases of the assessment service. No FastStream and no SQL here."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from contracts.v1.assessment import (
    AchievementDefined,
    AchievementEarned,
    AssessmentResultSubmitted,
    EvidenceRef,
    LearnerRef,
)
from services.assessment.adapters.common import Normalised
from services.assessment.domain import Achievement, Criteria, Learner, Result, earned_id, evidence
from services.assessment.repository import AssessmentRepository

PublishEarned = Callable[[AchievementEarned], Awaitable[None]]


async def record_result(
    submitted: AssessmentResultSubmitted,
    *,
    raw: bytes,
    source_format: str,
    repo: AssessmentRepository,
    publish: PublishEarned,
    lms_id: str | None = None,
) -> list[str]:
    """Store a result and award every achievement it completes.

    Idempotent: a result id already stored for the issuer changes nothing. Returns the earned ids
    published (empty for most results).
    """
    learner = Learner(
        learner_id=submitted.learner.id,
        email=submitted.learner.email,
        name=submitted.learner.name,
        did=submitted.learner.did,
    )
    result = Result(
        result_id=submitted.result_id,
        activity_id=submitted.activity_id,
        score_scaled=submitted.score.normalised() if submitted.score else None,
        success=submitted.success,
        completion=submitted.completion,
        occurred_at=submitted.occurred_at,
    )
    # First statement on purpose: the upsert row-locks the learner until commit, so two results of
    # one learner arriving at once (two topics, HTTP beside Kafka, two instances) are evaluated
    # one after the other, the second seeing the first's result (READ COMMITTED takes a new
    # snapshot per statement); otherwise each could miss the other and the award be lost.
    await repo.upsert_learner(issuer_id=submitted.issuer_id, learner=learner)
    stored = await repo.insert_result(
        issuer_id=submitted.issuer_id,
        learner_id=learner.learner_id,
        result=result,
        attempt=submitted.attempt,
        source_format=source_format,
        raw=json.loads(raw),
        lms_id=lms_id,
    )
    if not stored:
        return []
    awarded = []
    for achievement in await repo.find_achievements_requiring(
        issuer_id=submitted.issuer_id, activity_id=submitted.activity_id
    ):
        earned = await _award_if_met(achievement, learner, repo=repo, publish=publish)
        if earned:
            awarded.append(earned)
    return awarded


async def record_normalised(
    results: list[Normalised],
    *,
    lms_id: str,
    repo: AssessmentRepository,
    publish: PublishEarned,
) -> list[str]:
    """Record results an adapter normalised from one LMS payload, in the caller's transaction
    (so a payload is applied entirely or not at all). The result ids (`xapi:<statement id>`,
    `caliper:<event id>`, `lti:<derived>`) make a re-sent payload a no-op, whether it came over
    Kafka or HTTP. Returns the earned ids published."""
    awarded: list[str] = []
    # Learners in one order: the learner rows are locked as results are recorded, and two
    # envelopes naming the same learners in opposite orders must not deadlock.
    for item in sorted(results, key=lambda n: n.result.learner.id):
        awarded += await record_result(
            item.result,
            raw=item.raw,
            source_format=item.source_format,
            repo=repo,
            publish=publish,
            lms_id=lms_id,
        )
    return awarded


async def define_achievement(
    defined: AchievementDefined, *, repo: AssessmentRepository, publish: PublishEarned
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
    awarded = []
    for learner_id in await repo.list_learners_with_results(
        issuer_id=achievement.issuer_id, activity_ids=achievement.criteria.required_activity_ids
    ):
        learner = await repo.get_learner(issuer_id=achievement.issuer_id, learner_id=learner_id)
        if learner is None:
            continue
        earned = await _award_if_met(achievement, learner, repo=repo, publish=publish)
        if earned:
            awarded.append(earned)
    return awarded


async def _award_if_met(
    achievement: Achievement,
    learner: Learner,
    *,
    repo: AssessmentRepository,
    publish: PublishEarned,
) -> str | None:
    if await repo.has_earned(
        issuer_id=achievement.issuer_id,
        achievement_id=achievement.achievement_id,
        learner_id=learner.learner_id,
    ):
        return None
    results = await repo.list_results(
        issuer_id=achievement.issuer_id,
        learner_id=learner.learner_id,
        activity_ids=achievement.criteria.required_activity_ids,
    )
    chosen = evidence(achievement.criteria, results)
    if chosen is None:
        return None
    earned_at = datetime.now(UTC)
    eid = earned_id(
        issuer_id=achievement.issuer_id,
        achievement_id=achievement.achievement_id,
        learner_id=learner.learner_id,
    )
    if not await repo.insert_earned(
        issuer_id=achievement.issuer_id,
        achievement_id=achievement.achievement_id,
        learner_id=learner.learner_id,
        earned_id=eid,
        revision=achievement.revision,
        earned_at=earned_at,
    ):
        return None
    await publish(
        AchievementEarned(
            earned_id=eid,
            issuer_id=achievement.issuer_id,
            achievement_id=achievement.achievement_id,
            achievement_revision=achievement.revision,
            learner=LearnerRef(
                id=learner.learner_id, email=learner.email, name=learner.name, did=learner.did
            ),
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
    return eid
