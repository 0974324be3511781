"""IMS Caliper Analytics 1.1 and 1.2 envelopes -> assessment results.

An envelope is `{sensor, sendTime, dataVersion, data[]}` (Caliper 1.1/1.2, "Envelope");
`dataVersion` names the context (`http://purl.imsglobal.org/ctx/caliper/v1p1` or `.../v1p2`).
Of its events only `GradeEvent` concerns assessment (other types are skipped, not refused: one
Caliper stream carries many). A GradeEvent must have `id`, `action: "Graded"`, `eventTime`,
an `object` of type `Attempt` whose `assignee` (the learner) and `assignable` (the activity) are
entities or entity IRIs, and a `generated` `Score` with `scoreGiven` (Caliper 1.1 senders such
as Blackboard Learn report `normalScore`, accepted in its place) and `maxScore` (from the Score,
else from the assignable). The event `id` is the deduplication key. One invalid GradeEvent
refuses the whole envelope, so an envelope is applied entirely or not at all.
Unknown fields are ignored everywhere, as Caliper's extension rules expect.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from contracts.v1.assessment import AssessmentResultSubmitted, LearnerRef, Score
from services.assessment.adapters.common import (
    Normalised,
    canonical,
    iri,
    number,
    obj,
    reject,
    req_text,
    scaled,
    timestamp,
)
from services.assessment.lms import LmsProfile

CONTEXTS = {
    "http://purl.imsglobal.org/ctx/caliper/v1p1": "1.1",
    "http://purl.imsglobal.org/ctx/caliper/v1p2": "1.2",
}


def envelope_to_results(envelope: Any, lms: LmsProfile) -> list[Normalised]:
    """Normalise every GradeEvent of one envelope for `lms`; raises IngestRejected."""
    env = obj(envelope, "envelope")
    req_text(env.get("sensor"), "sensor")
    timestamp(env.get("sendTime"), "sendTime")
    data_version = req_text(env.get("dataVersion"), "dataVersion")
    if data_version not in CONTEXTS:
        raise reject("version_unsupported", f"dataVersion {data_version[:100]!r} is not Caliper 1.1 or 1.2")
    data = env.get("data")
    if data is None:
        raise reject("missing_field", "data is required")
    if not isinstance(data, list):
        raise reject("wrong_type", "data must be an array of events")
    header = {k: v for k, v in env.items() if k != "data"}
    results = []
    for index, item in enumerate(data):
        event = obj(item, f"data[{index}]")
        if event.get("type") != "GradeEvent":
            continue
        submitted = _grade_event(event, f"data[{index}]", lms)
        # The raw payload kept per result: the envelope with this one event.
        results.append(
            Normalised(submitted, canonical({**header, "data": [event]}), f"caliper-{CONTEXTS[data_version]}")
        )
    return results


def _grade_event(event: dict[str, Any], at: str, lms: LmsProfile) -> AssessmentResultSubmitted:
    event_id = iri(event.get("id"), f"{at}.id")
    action = req_text(event.get("action"), f"{at}.action")
    if action != "Graded":
        raise reject("invalid_value", f"{at}.action of a GradeEvent must be Graded, not {action[:40]!r}")
    occurred = timestamp(event.get("eventTime"), f"{at}.eventTime")
    attempt = obj(event.get("object"), f"{at}.object")
    if attempt.get("type") != "Attempt":
        raise reject("invalid_value", f"{at}.object.type must be Attempt")
    learner = _entity_id(attempt.get("assignee"), f"{at}.object.assignee")
    assignable_value = attempt.get("assignable")
    activity = _entity_id(assignable_value, f"{at}.object.assignable")
    score = obj(event.get("generated"), f"{at}.generated")
    if score.get("type") != "Score":
        raise reject("invalid_value", f"{at}.generated.type must be Score")
    given = number(score.get("scoreGiven"), f"{at}.generated.scoreGiven")
    if given is None:
        given = number(score.get("normalScore"), f"{at}.generated.normalScore")
    if given is None:
        raise reject("missing_field", f"{at}.generated.scoreGiven (or Caliper 1.1 normalScore) is required")
    maximum = number(score.get("maxScore"), f"{at}.generated.maxScore")
    if maximum is None and isinstance(assignable_value, dict):
        maximum = number(assignable_value.get("maxScore"), f"{at}.object.assignable.maxScore")
    if maximum is None:
        raise reject("missing_field", f"{at}.generated.maxScore (or the assignable's maxScore) is required")
    count = attempt.get("count")
    try:
        return AssessmentResultSubmitted(
            result_id=f"caliper:{event_id}",
            issuer_id=lms.issuer_id,
            learner=LearnerRef(id=lms.learner_id(learner)),
            activity_id=lms.activity_id(activity),
            score=Score(scaled=scaled(given, maximum, f"{at}.generated.scoreGiven")),
            attempt=count if isinstance(count, int) and not isinstance(count, bool) and count >= 1 else None,
            occurred_at=occurred,
        )
    except ValidationError as exc:
        raise reject("invalid_value", f"{at}: {exc.errors()[0]['msg']}") from None


def _entity_id(value: Any, where: str) -> str:
    """A Caliper entity is either an object with `id` or its IRI alone."""
    if isinstance(value, str):
        return iri(value, where)
    return iri(obj(value, where).get("id"), f"{where}.id")
