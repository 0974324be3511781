"""The Caliper and LTI AGS adapters: spec-shaped payloads normalised, or refused with a reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.assessment.adapters.caliper import envelope_to_results
from services.assessment.adapters.lti import score_to_result
from services.assessment.domain import IngestRejected
from tests.fixtures.lms import LmsScenario

LMS = LmsScenario("https://issuer.test", ("https://lms.test/quiz", "https://lms.test/exam"))
LINE_ITEM = "https://lms.test/courses/7/lineitems/1"


def refused_caliper(envelope: Any) -> IngestRejected:
    with pytest.raises(IngestRejected) as caught:
        envelope_to_results(envelope, LMS.profile())
    return caught.value


def test_a_caliper_1_2_grade_event_becomes_a_scored_result() -> None:
    event = LMS.grade_event("ada", 1, given=72, maximum=80)
    [n] = envelope_to_results(LMS.caliper_envelope([event]), LMS.profile())
    r = n.result
    assert r.result_id == f"caliper:{event['id']}"
    assert r.learner.id == LMS.caliper_learner("ada") and r.activity_id == LMS.activities[1]
    assert r.score is not None and r.score.normalised() == 0.9 and r.attempt == 1
    assert n.source_format == "caliper-1.2"
    assert json.loads(n.raw)["data"] == [event]


def test_caliper_1_1_normal_score_with_the_assignable_max_and_iri_references() -> None:
    event = LMS.grade_event("ada", 0, given=40, maximum=50, v1p1=True)
    del event["generated"]["maxScore"]
    event["object"]["assignee"] = LMS.caliper_learner("ada")
    [n] = envelope_to_results(LMS.caliper_envelope([event], v1p1=True), LMS.profile())
    assert n.result.score is not None and n.result.score.normalised() == 0.8
    assert n.result.learner.id == LMS.caliper_learner("ada") and n.source_format == "caliper-1.1"


def test_other_events_are_skipped_and_unknown_fields_tolerated() -> None:
    navigation = {"id": "urn:uuid:1", "type": "NavigationEvent", "action": "NavigatedTo"}
    event = LMS.grade_event("ada", 0, given=10)
    event["extensions"] = {"bb:user.externalId": "ada"}
    envelope = LMS.caliper_envelope([navigation, event])
    envelope["x-vendor"] = True
    assert len(envelope_to_results(envelope, LMS.profile())) == 1
    assert envelope_to_results(LMS.caliper_envelope([navigation]), LMS.profile()) == []


@pytest.mark.parametrize(
    ("path", "reason", "where"),
    [
        (("sensor",), "missing_field", "sensor"),
        (("dataVersion",), "missing_field", "dataVersion"),
        (("data",), "missing_field", "data"),
        (("data", 0, "object", "assignee"), "missing_field", "data[0].object.assignee"),
        (("data", 0, "object", "assignable"), "missing_field", "data[0].object.assignable"),
        (("data", 0, "generated"), "missing_field", "data[0].generated"),
        (("data", 0, "eventTime"), "missing_field", "data[0].eventTime"),
        (("data", 0, "generated", "scoreGiven"), "missing_field", "scoreGiven"),
    ],
)
def test_missing_required_caliper_fields_are_refused(path: tuple[Any, ...], reason: str, where: str) -> None:
    envelope = LMS.caliper_envelope([LMS.grade_event("ada", 0, given=10)])
    target: Any = envelope
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    err = refused_caliper(envelope)
    assert err.reason == reason and where in str(err)


def test_wrong_caliper_types_and_values_are_refused() -> None:
    event = LMS.grade_event("ada", 0, given=10)
    event["generated"]["scoreGiven"] = "10"
    assert refused_caliper(LMS.caliper_envelope([event])).reason == "wrong_type"
    event = LMS.grade_event("ada", 0, given=120, maximum=100)
    assert refused_caliper(LMS.caliper_envelope([event])).reason == "invalid_value"
    event = LMS.grade_event("ada", 0, given=10)
    event["action"] = "Viewed"
    assert refused_caliper(LMS.caliper_envelope([event])).reason == "invalid_value"
    envelope = LMS.caliper_envelope([])
    envelope["dataVersion"] = "http://purl.imsglobal.org/ctx/caliper/v1p0"
    assert refused_caliper(envelope).reason == "version_unsupported"
    envelope = LMS.caliper_envelope([])
    envelope["data"] = {"type": "GradeEvent"}
    assert refused_caliper(envelope).reason == "wrong_type"


def test_a_fully_graded_lti_score_becomes_a_result_with_a_stable_id() -> None:
    score = LMS.lti_score("sub-42", given=83)
    n = score_to_result(score, LMS.profile(identities={"lti:sub-42": "learner-42"}), line_item=LINE_ITEM)
    assert n is not None
    r = n.result
    assert r.learner.id == "learner-42" and r.activity_id == LINE_ITEM
    assert r.score is not None and r.score.normalised() == 0.83 and r.completion is True
    again = score_to_result(dict(score, comment="re-sent"), LMS.profile(), line_item=LINE_ITEM)
    assert again is not None and again.result.result_id == r.result_id


@pytest.mark.parametrize("grading", ["Pending", "PendingManual", "Failed", "NotReady"])
def test_lti_scores_that_are_not_fully_graded_yield_nothing(grading: str) -> None:
    assert (
        score_to_result(LMS.lti_score("u", given=90, grading=grading), LMS.profile(), line_item=LINE_ITEM)
        is None
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"userId": None}, "missing_field"),
        ({"timestamp": None}, "missing_field"),
        ({"gradingProgress": None}, "missing_field"),
        ({"scoreMaximum": None}, "missing_field"),
        ({"scoreGiven": "83"}, "wrong_type"),
        ({"userId": 42}, "wrong_type"),
        ({"activityProgress": "Done"}, "invalid_value"),
        ({"scoreGiven": 101}, "invalid_value"),
        ({"timestamp": "yesterday"}, "invalid_value"),
    ],
)
def test_invalid_lti_scores_are_refused(change: dict[str, Any], reason: str) -> None:
    score = {k: v for k, v in {**LMS.lti_score("u", given=83), **change}.items() if v is not None}
    with pytest.raises(IngestRejected) as caught:
        score_to_result(score, LMS.profile(), line_item=LINE_ITEM)
    assert caught.value.reason == reason
