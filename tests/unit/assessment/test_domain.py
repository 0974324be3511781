from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from contracts.ids import earned_id
from services.assessment.domain import Criteria, Result, evidence, passes

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def result(
    activity: str,
    scaled: float | None,
    success: bool | None = None,
    completion: bool | None = None,
    n: int = 0,
) -> Result:
    return Result(f"r{n}-{activity}", activity, scaled, success, completion, T0 + timedelta(minutes=n))


def test_min_score_must_be_reached_on_every_required_activity() -> None:
    c = Criteria(("a", "b"), min_scaled_score=0.6)
    assert evidence(c, [result("a", 0.6), result("b", 0.59)]) is None
    assert evidence(c, [result("a", 0.6), result("b", 0.59), result("b", 0.61, n=1)]) is not None


def test_a_failed_or_incomplete_result_never_passes_even_with_a_high_score() -> None:
    c = Criteria(("a",), min_scaled_score=0.5)
    assert not passes(c, result("a", 0.99, success=False))
    assert not passes(c, result("a", 0.99, completion=False))


def test_require_success_needs_an_explicit_success() -> None:
    c = Criteria(("a",), require_success=True)
    assert not passes(c, result("a", 1.0))
    assert passes(c, result("a", None, success=True))


def test_without_conditions_a_result_needs_a_positive_signal() -> None:
    c = Criteria(("a",))
    assert not passes(c, result("a", None))
    assert passes(c, result("a", None, completion=True))


def test_evidence_picks_the_best_passing_attempt() -> None:
    c = Criteria(("a",), min_scaled_score=0.5)
    chosen = evidence(c, [result("a", 0.7, n=1), result("a", 0.9, n=2), result("a", 0.4, n=3)])
    assert chosen is not None and chosen[0].score_scaled == 0.9


@given(st.permutations([("a", 0.3), ("a", 0.8), ("b", 0.7), ("b", 0.2)]))
def test_order_of_arrival_does_not_change_the_outcome(order: list[tuple[str, float]]) -> None:
    c = Criteria(("a", "b"), min_scaled_score=0.6)
    results = [result(a, s, n=i) for i, (a, s) in enumerate(order)]
    assert evidence(c, results) is not None


def test_earned_id_is_deterministic_and_distinct_per_learner() -> None:
    one = earned_id(issuer_id="i", achievement_id="a", learner_id="l1")
    assert one == earned_id(issuer_id="i", achievement_id="a", learner_id="l1")
    assert one != earned_id(issuer_id="i", achievement_id="a", learner_id="l2")
    assert one.startswith("urn:uuid:")
