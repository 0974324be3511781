"""The assessment use cases with in-memory fakes (no database, no broker): which results award
an achievement, exactly once, and what the award event carries."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest

from contracts.ids import earned_id
from contracts.topics import ACHIEVEMENTS_EARNED
from contracts.v1.assessment import (
    AchievementCriteria,
    AchievementDefined,
    AssessmentResultSubmitted,
    LearnerRef,
    Score,
)
from services.assessment import service
from services.assessment.service import Submission
from tests.fixtures.fakes import FakeAssessmentStore, RecordingOutbox

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
QUIZ, EXAM = "https://lms.test/quiz", "https://lms.test/exam"


def defined(
    revision: int = 1, *, min_score: float = 0.6, status: Literal["active", "retired"] = "active"
) -> AchievementDefined:
    return AchievementDefined(
        achievement_id="gdpr", issuer_id="uni", revision=revision, name="GDPR", status=status,
        criteria=AchievementCriteria(required_activity_ids=[QUIZ, EXAM], min_scaled_score=min_score),
    )  # fmt: skip


def result(
    result_id: str, activity: str, scaled: float, *, learner: str = "ada", minute: int = 0
) -> Submission:
    submitted = AssessmentResultSubmitted(
        result_id=result_id, issuer_id="uni", learner=LearnerRef(id=learner, email=f"{learner}@l.test"),
        activity_id=activity, score=Score(scaled=scaled), occurred_at=T0 + timedelta(minutes=minute),
    )  # fmt: skip
    return Submission(submitted, submitted.model_dump_json().encode(), "credstream")


def record(store: FakeAssessmentStore, *submissions: Submission) -> RecordingOutbox:
    outbox = RecordingOutbox()
    asyncio.run(service.record_results(list(submissions), repo=store, outbox=outbox))
    return outbox


@pytest.fixture
def store() -> FakeAssessmentStore:
    known = FakeAssessmentStore()
    asyncio.run(service.define_achievement(defined(), repo=known, outbox=RecordingOutbox()))
    return known


def test_passing_every_required_activity_awards_once_with_the_best_results_as_evidence(
    store: FakeAssessmentStore,
) -> None:
    assert record(store, result("r1", QUIZ, 0.7)).events == []  # the exam is still missing
    outbox = record(store, result("r2", QUIZ, 0.9, minute=1), result("r3", EXAM, 0.8, minute=2))
    [earned] = outbox.of(ACHIEVEMENTS_EARNED)
    assert earned.earned_id == earned_id(issuer_id="uni", achievement_id="gdpr", learner_id="ada")
    assert [(e.result_id, e.score_scaled) for e in earned.evidence] == [("r2", 0.9), ("r3", 0.8)]
    assert earned.learner.email == "ada@l.test"
    # A re-take that passes again, and the same results sent again, award nothing more.
    assert record(store, result("r4", EXAM, 1.0, minute=3)).events == []
    assert record(store, result("r2", QUIZ, 0.9, minute=1), result("r3", EXAM, 0.8, minute=2)).events == []


def test_a_failing_result_does_not_count_and_a_later_pass_awards(store: FakeAssessmentStore) -> None:
    assert record(store, result("r1", QUIZ, 0.9), result("r2", EXAM, 0.3)).events == []
    [earned] = record(store, result("r3", EXAM, 0.6, minute=5)).of(ACHIEVEMENTS_EARNED)
    assert [e.result_id for e in earned.evidence] == ["r1", "r3"]


def test_a_definition_awards_what_stored_results_already_meet_and_an_older_revision_changes_nothing() -> None:
    store = FakeAssessmentStore()
    # Results arrive before the achievement is defined: nothing requires them yet.
    assert (
        record(
            store, result("r1", QUIZ, 0.9), result("r2", EXAM, 0.9), result("r3", QUIZ, 0.9, learner="bo")
        ).events
        == []
    )
    outbox = RecordingOutbox()
    awarded = asyncio.run(service.define_achievement(defined(2), repo=store, outbox=outbox))
    assert [e.learner.id for e in outbox.of(ACHIEVEMENTS_EARNED)] == ["ada"] and len(awarded) == 1
    stale = RecordingOutbox()
    assert asyncio.run(service.define_achievement(defined(1, min_score=0.0), repo=store, outbox=stale)) == []
    assert stale.events == [] and store.achievements["gdpr"].revision == 2


def test_a_retired_achievement_awards_nothing(store: FakeAssessmentStore) -> None:
    asyncio.run(
        service.define_achievement(defined(2, status="retired"), repo=store, outbox=RecordingOutbox())
    )
    assert record(store, result("r1", QUIZ, 0.9), result("r2", EXAM, 0.9)).events == []
