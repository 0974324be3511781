"""The xAPI adapter: statements written from xAPI 1.0.3 normalised, or refused with a reason."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from services.assessment.adapters.xapi import statement_to_result
from services.assessment.domain import IngestRejected
from tests.fixtures.lms import LmsScenario

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
LMS = LmsScenario("https://issuer.test", ("https://lms.test/quiz", "https://lms.test/exam"))


def adapt(statement: Any, **profile: Any) -> Any:
    return statement_to_result(statement, LMS.profile(**profile), received_at=NOW).result


def refused(statement: Any, **profile: Any) -> IngestRejected:
    with pytest.raises(IngestRejected) as caught:
        adapt(statement, **profile)
    return caught.value


def test_a_passed_statement_becomes_a_successful_scored_result() -> None:
    st = LMS.statement("ada", 0, scaled=0.82)
    r = adapt(st)
    assert r.result_id == f"xapi:{st['id']}"
    assert r.issuer_id == "https://issuer.test"
    assert r.learner.id == "mailto:ada@learners.test" and r.learner.email == "ada@learners.test"
    assert r.activity_id == "https://lms.test/quiz"
    assert r.success is True and r.completion is True and r.score.normalised() == 0.82
    assert r.occurred_at == datetime.fromisoformat(st["timestamp"].replace("Z", "+00:00"))


def test_failed_verb_is_a_failure_and_contradictions_are_refused() -> None:
    assert adapt(LMS.statement("ada", 0, verb="failed", scaled=0.3)).success is False
    assert refused(LMS.statement("ada", 0, verb="passed", success=False)).reason == "result_contradicts_verb"
    assert refused(LMS.statement("ada", 0, verb="failed", success=True)).reason == "result_contradicts_verb"


def test_completed_and_scored_verbs() -> None:
    st = LMS.statement("ada", 0, verb="completed", scaled=None)
    del st["result"]
    r = adapt(st)
    assert r.completion is True and r.success is None and r.score is None
    assert adapt(LMS.statement("ada", 0, verb="scored", scaled=0.5)).score.normalised() == 0.5
    st = LMS.statement("ada", 0, verb="scored", scaled=None)
    assert refused(st).reason == "missing_field"


def test_raw_min_max_scales_when_scaled_is_absent() -> None:
    st = LMS.statement("ada", 0)
    st["result"]["score"] = {"raw": 30, "min": 10, "max": 50}
    assert adapt(st).score.normalised() == 0.5
    st["result"]["score"] = {"raw": 60, "min": 10, "max": 50}
    assert refused(st).reason == "score_invalid"
    st["result"]["score"] = {"scaled": 1.5}
    assert refused(st).reason == "score_invalid"


@pytest.mark.parametrize(
    ("actor", "key"),
    [
        ({"mbox": "mailto:Ada@Learners.test"}, "mailto:ada@learners.test"),
        ({"mbox_sha1sum": hashlib.sha1(b"mailto:ada@learners.test").hexdigest()}, None),
        ({"openid": "https://openid.test/ada"}, "openid:https://openid.test/ada"),
        ({"account": {"homePage": "https://lms.test", "name": "ada"}}, "account:https://lms.test|ada"),
    ],
)
def test_each_inverse_functional_identifier_is_an_identity_key(
    actor: dict[str, Any], key: str | None
) -> None:
    st = LMS.statement("ada", 0)
    st["actor"] = {"objectType": "Agent", **actor}
    learner = adapt(st).learner.id
    assert learner == key or learner.startswith("mbox_sha1sum:")


def test_identities_map_to_learner_references_per_lms() -> None:
    st = LMS.statement("ada", 0)
    assert adapt(st, identities={"mailto:ada@learners.test": "learner-7"}).learner.id == "learner-7"
    assert refused(st, unmapped_identities="reject").reason == "identity_unmapped"
    assert adapt(st, activities={"https://lms.test/quiz": "urn:act:quiz"}).activity_id == "urn:act:quiz"


@pytest.mark.parametrize(
    "actor",
    [
        {"name": "Ada"},
        {"mbox": "mailto:ada@learners.test", "openid": "https://openid.test/ada"},
    ],
    ids=["none", "two"],
)
def test_an_actor_needs_exactly_one_identifier(actor: dict[str, Any]) -> None:
    st = LMS.statement("ada", 0)
    st["actor"] = actor
    assert refused(st).reason == "actor_identifier_invalid"


def test_missing_required_parts_are_refused_with_the_field() -> None:
    for field in ("actor", "verb", "object"):
        st = LMS.statement("ada", 0)
        del st[field]
        err = refused(st)
        assert err.reason == "missing_field" and field in str(err)
    st = LMS.statement("ada", 0)
    del st["object"]["id"]
    assert "object.id" in str(refused(st))
    st = LMS.statement("ada", 0)
    st["actor"]["account"] = {"homePage": "https://lms.test"}
    del st["actor"]["mbox"]
    assert "actor.account.name" in str(refused(st))


def test_wrong_types_are_refused() -> None:
    st = LMS.statement("ada", 0)
    st["result"]["success"] = "yes"
    assert refused(st).reason == "wrong_type"
    st = LMS.statement("ada", 0)
    st["result"]["score"]["scaled"] = "0.9"
    err = refused(st)
    assert err.reason == "wrong_type" and "result.score.scaled" in str(err)
    assert refused([LMS.statement("ada", 0)]).reason == "wrong_type"


def test_unsupported_verbs_objects_ids_and_versions() -> None:
    assert refused(LMS.statement("ada", 0, verb="experienced")).reason == "verb_unsupported"
    st = LMS.statement("ada", 0)
    st["object"] = {"objectType": "Agent", "mbox": "mailto:x@y.test"}
    assert refused(st).reason == "object_not_activity"
    assert refused(LMS.statement("ada", 0, statement_id="not-a-uuid")).reason == "invalid_value"
    st = LMS.statement("ada", 0)
    st["version"] = "0.95"
    assert refused(st).reason == "version_unsupported"


def test_unknown_fields_are_tolerated_and_a_statement_without_id_gets_a_stable_one() -> None:
    st = LMS.statement("ada", 0)
    st["x-lms-extra"] = {"anything": [1, 2]}
    st["result"]["extensions"] = {"https://lms.test/ext": 1}
    assert adapt(st).success is True
    del st["id"]
    assert adapt(st).result_id == adapt(dict(st)).result_id
    st2 = dict(st, timestamp="2026-01-01T00:00:00Z")
    assert adapt(st2).result_id != adapt(st).result_id
