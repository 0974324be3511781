"""The LMS simulator's plan: what it generates and the expectation it derives from criteria."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from deploy.cli.simulator import AchievementRule, ContractEncoder, SimulatedResult, expected_earned, plan

QUIZ, EXAM, PROJECT = "https://lms.test/c/quiz", "https://lms.test/c/exam", "https://lms.test/c/project"
SCORED = AchievementRule("scored", "u", (QUIZ, EXAM), min_scaled_score=0.6)
SUCCESS = AchievementRule("success", "u", (PROJECT,), require_success=True)


def result(learner: str, activity: str, score: float, success: bool, n: int = 1) -> SimulatedResult:
    return SimulatedResult(
        result_id=f"{learner}-{activity}-{n}", issuer_id="u", learner_id=learner, email=f"{learner}@x.test",
        activity_id=activity, score=score, success=success, attempt=n, occurred_at=datetime.now(UTC),
    )  # fmt: skip


def test_expected_earned_needs_every_required_activity_passed() -> None:
    results = [
        result("a", QUIZ, 0.7, True), result("a", EXAM, 0.9, True),  # earns "scored"
        result("b", QUIZ, 0.7, True),  # exam never taken
        result("c", QUIZ, 0.7, True), result("c", EXAM, 0.55, True),  # success, but below 0.6
        result("d", QUIZ, 0.3, False), result("d", QUIZ, 0.8, True, 2),  # a retake
        result("d", EXAM, 0.6, True),
        result("e", PROJECT, 0.1, True),  # success is all "success" asks
        result("f", PROJECT, 0.9, False),
    ]  # fmt: skip
    assert expected_earned([SCORED, SUCCESS], results) == {("a", "scored"), ("d", "scored"), ("e", "success")}


def test_plan_mixes_outcomes_and_counts_its_malformed_records() -> None:
    run = plan([SCORED, SUCCESS], learners=60, run_id="r1", seed=11, duplicate_rate=0.1, malformed_rate=0.05)
    valid = [s.result for s in run.sends if s.result is not None]
    assert run.counts["fails"] > 0 and run.counts["retakes"] > 0 and run.counts["duplicates"] > 0
    assert run.expected_dlq == run.counts["malformed"] == sum(s.malformed is not None for s in run.sends) >= 3
    assert 0 < len(run.expected_earned) < 2 * 60
    assert run.expected_earned == expected_earned([SCORED, SUCCESS], valid)
    # A duplicate is the same record twice: same result and CloudEvents id as the one it repeats.
    duplicates = [s for s in run.sends if s.duplicate_of is not None]
    assert all(d.event_id == d.duplicate_of for d in duplicates)
    assert len({(r.result_id) for r in valid}) == len(valid) - len(duplicates)
    # A re-take is a failed attempt 1, then a passed attempt 2 of the same activity, later.
    retakes = [r for r in valid if r.attempt == 2]
    assert len({r.result_id for r in retakes}) == run.counts["retakes"]
    for second in retakes:
        [first] = {
            r
            for r in valid
            if r.learner_id == second.learner_id and r.activity_id == second.activity_id and r.attempt == 1
        }
        assert not first.success and second.success and first.occurred_at < second.occurred_at


def test_malformed_records_are_invalid_in_three_ways() -> None:
    run = plan([SCORED], learners=10, run_id="r2", seed=1, malformed_rate=0.5)
    kinds: dict[str, bytes] = {s.malformed.kind: s.malformed.value for s in run.sends if s.malformed}
    with pytest.raises(ValueError):
        json.loads(kinds["invalid_json"])
    assert "learner" not in json.loads(kinds["missing_field"])
    assert isinstance(json.loads(kinds["wrong_type"])["score"]["scaled"], str)


def test_the_contract_encoder_writes_a_cloudevent_the_contract_accepts() -> None:
    from contracts.v1.assessment import AssessmentResultSubmitted

    value, headers = ContractEncoder().encode(result("a", QUIZ, 0.7, True), source="urn:s", event_id="e-1")
    names = dict(headers)
    assert names["ce_id"] == b"e-1" and names["ce_source"] == b"urn:s"
    assert names["ce_type"] == AssessmentResultSubmitted.event_type.encode()
    parsed = AssessmentResultSubmitted.model_validate_json(value)
    assert parsed.learner.id == "a" and parsed.score is not None and parsed.score.scaled == 0.7
