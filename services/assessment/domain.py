"""Assessment rules: when does a set of results earn an achievement?

Policy (docs/assessment.md):
- A required activity is *passed* by a result that did not fail (`success` is not false), is not
  incomplete (`completion` is not false), reaches the minimum normalised score when the
  achievement sets one, reports `success = true` when the achievement requires it, and shows at
  least one positive signal (success, completion or a score) when it requires neither.
- The achievement is earned when every required activity has a passing result. All stored
  results count, whatever order they arrived in; a later failed re-take never undoes a pass.
- It is earned once per (issuer, learner, achievement): a re-take, a duplicate or an improved
  result after that changes nothing (awards beyond the first are a later policy).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.runtime.errors import DomainError


class AssessmentError(DomainError):
    """Root of the assessment service's domain errors."""


class IngestRejected(AssessmentError):
    """A foreign (xAPI, Caliper, LTI) payload or its sender is refused; `reason` says why (the
    dead-letter reason on Kafka, the problem `reason` over HTTP)."""


@dataclass(frozen=True, slots=True)
class Criteria:
    required_activity_ids: tuple[str, ...]
    min_scaled_score: float | None = None
    require_success: bool = False


@dataclass(frozen=True, slots=True)
class Achievement:
    achievement_id: str
    issuer_id: str
    revision: int
    name: str
    criteria: Criteria
    status: str = "active"


@dataclass(frozen=True, slots=True)
class Learner:
    learner_id: str
    email: str | None = None
    name: str | None = None
    did: str | None = None


@dataclass(frozen=True, slots=True)
class Result:
    result_id: str
    activity_id: str
    score_scaled: float | None
    success: bool | None
    completion: bool | None
    occurred_at: datetime


def passes(criteria: Criteria, result: Result) -> bool:
    """Does this one result pass its activity under these criteria?"""
    if result.success is False or result.completion is False:
        return False
    if criteria.require_success and result.success is not True:
        return False
    if criteria.min_scaled_score is not None:
        return result.score_scaled is not None and result.score_scaled >= criteria.min_scaled_score
    if criteria.require_success:
        return True
    return result.success is True or result.completion is True or result.score_scaled is not None


def evidence(criteria: Criteria, results: list[Result]) -> list[Result] | None:
    """The best passing result of each required activity, or None if any activity lacks one.

    "Best" is the highest score, then the earliest; the choice only affects the evidence listed.
    """
    chosen: list[Result] = []
    for activity_id in criteria.required_activity_ids:
        passing = [r for r in results if r.activity_id == activity_id and passes(criteria, r)]
        if not passing:
            return None
        passing.sort(key=lambda r: (-(r.score_scaled if r.score_scaled is not None else -2.0), r.occurred_at))
        chosen.append(passing[0])
    return chosen
