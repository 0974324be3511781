"""LTI Assignment and Grade Services 2.0 scores -> assessment results.

A score (media type `application/vnd.ims.lis.v1.score+json`, AGS 2.0 "Score publish service")
is posted to a line item's `/scores`; the line item is the activity, so it travels beside the
payload (the HTTP path, or the record's `ce_subject`). Required: `userId` (the learner's LTI
`sub`, identity key `lti:<userId>`), `timestamp` (ISO 8601 with sub-second precision in the
spec; any ISO 8601 is accepted), `activityProgress` (Initialized, Started, InProgress, Submitted,
Completed) and `gradingProgress` (FullyGraded, Pending, PendingManual, Failed, NotReady).
`scoreGiven` needs `scoreMaximum`. Only `FullyGraded` is a final grade: other scores are valid
but yield no result (None). A score carries no id: the deduplication key is derived from the
LMS, line item, user and timestamp (AGS: a score with the same timestamp is the same update).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from contracts.v1.assessment import AssessmentResultSubmitted, LearnerRef, Score
from services.assessment.adapters.common import (
    Normalised,
    canonical,
    derived_id,
    iri,
    number,
    obj,
    reject,
    req_text,
    scaled,
    timestamp,
)
from services.assessment.lms import LmsProfile

ACTIVITY_PROGRESS = ("Initialized", "Started", "InProgress", "Submitted", "Completed")
GRADING_PROGRESS = ("FullyGraded", "Pending", "PendingManual", "Failed", "NotReady")


def score_to_result(
    payload: Any, lms: LmsProfile, *, line_item: str, raw: bytes | None = None
) -> Normalised | None:
    """Normalise one AGS score for `lms`; None when it is not final; raises IngestRejected."""
    score = obj(payload, "score")
    line_item = iri(line_item, "line item")
    user = req_text(score.get("userId"), "userId")
    occurred = timestamp(score.get("timestamp"), "timestamp")
    activity_progress = _choice(score.get("activityProgress"), "activityProgress", ACTIVITY_PROGRESS)
    grading = _choice(score.get("gradingProgress"), "gradingProgress", GRADING_PROGRESS)
    given = number(score.get("scoreGiven"), "scoreGiven")
    maximum = number(score.get("scoreMaximum"), "scoreMaximum")
    if given is not None and maximum is None:
        raise reject("missing_field", "scoreMaximum is required with scoreGiven")
    normal = scaled(given, maximum, "scoreGiven") if given is not None and maximum is not None else None
    if grading != "FullyGraded":
        return None
    try:
        submitted = AssessmentResultSubmitted(
            result_id="lti:" + derived_id(lms.lms_id, line_item, user, score["timestamp"]),
            issuer_id=lms.issuer_id,
            learner=LearnerRef(id=lms.learner_id(f"lti:{user}")),
            activity_id=lms.activity_id(line_item),
            score=Score(scaled=normal) if normal is not None else None,
            completion=True if activity_progress in ("Submitted", "Completed") else None,
            occurred_at=occurred,
        )
    except ValidationError as exc:
        raise reject("invalid_value", f"score: {exc.errors()[0]['msg']}") from None
    return Normalised(submitted, raw if raw is not None else canonical(score), "lti-ags")


def _choice(value: Any, where: str, allowed: tuple[str, ...]) -> str:
    found = req_text(value, where)
    if found not in allowed:
        raise reject("invalid_value", f"{where} {found[:40]!r} is not one of {', '.join(allowed)}")
    return found
