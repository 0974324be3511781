"""The simulator's xAPI, Caliper and LTI encoders, read back by the assessment service's own
adapters (pure): every payload normalises to the expected AssessmentResultSubmitted, every
malformed variant is refused, and a mixed plan's expectation is what the platform's policy makes
of the adapted results."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from contracts.envelope import headers_to_dict, parse_attributes
from contracts.v1.assessment import AssessmentResultSubmitted
from deploy.cli.formats import CaliperEncoder, LmsTarget, LtiEncoder, XapiEncoder, encoders
from deploy.cli.simulator import (
    MALFORMED_KINDS,
    AchievementRule,
    ContractEncoder,
    MalformedRecord,
    ResultEncoder,
    SimulatedResult,
    plan,
)
from services.assessment.adapters import caliper, lti, xapi
from services.assessment.domain import Criteria, IngestRejected, Result, passes
from services.assessment.lms import LmsDirectory, LmsProfile
from tests.fixtures.lms import LmsScenario

QUIZ, EXAM, PROJECT = "https://lms.test/c/quiz", "https://lms.test/c/exam", "https://lms.test/c/project"
SCORED = AchievementRule("scored", "issuer-u", (QUIZ, EXAM), min_scaled_score=0.6)
SUCCESS = AchievementRule("success", "issuer-u", (PROJECT,), require_success=True)
OPEN = AchievementRule("open", "issuer-u", (PROJECT,))  # no score, no success required

SCENARIO = LmsScenario("issuer-u", (QUIZ, EXAM, PROJECT))
MAPPED = "sim-r-mapped"
CONFIG = json.loads(SCENARIO.config_json())
CONFIG["lms"][0]["identities"] = {f"account:{SCENARIO.source}|{MAPPED}": "learner-mapped"}
PROFILE: LmsProfile = LmsDirectory.model_validate(CONFIG).by_source(SCENARIO.source)
TARGET = LmsTarget.for_issuer(CONFIG, "issuer-u")
assert TARGET is not None
FOREIGN: list[ResultEncoder] = [XapiEncoder(TARGET), CaliperEncoder(TARGET), LtiEncoder(TARGET)]


def sample(learner: str = "sim-r-00001", *, score: float = 0.8125, success: bool = True) -> SimulatedResult:
    return SimulatedResult(
        result_id=f"{learner}:c-quiz:1", issuer_id="issuer-u", learner_id=learner,
        email=f"{learner}@learners.example", activity_id=QUIZ, score=score, success=success, attempt=1,
        occurred_at=datetime(2026, 3, 4, 10, 11, 12, 345000, tzinfo=UTC),
    )  # fmt: skip


def adapt(encoder: ResultEncoder, value: bytes, headers: Any) -> list[AssessmentResultSubmitted]:
    """What the assessment service's handler for the encoder's topic makes of one record."""
    attributes = parse_attributes(headers_to_dict(headers))
    assert attributes.source == SCENARIO.source
    lms = LmsDirectory.model_validate(CONFIG).by_source(attributes.source)
    body = json.loads(value)
    if isinstance(encoder, XapiEncoder):
        return [xapi.statement_to_result(body, lms, received_at=datetime.now(UTC)).result]
    if isinstance(encoder, CaliperEncoder):
        return [n.result for n in caliper.envelope_to_results(body, lms)]
    assert attributes.subject is not None
    found = lti.score_to_result(body, lms, line_item=attributes.subject)
    return [found.result] if found is not None else []


@pytest.mark.parametrize("encoder", FOREIGN, ids=lambda e: e.format)
@pytest.mark.parametrize("success", [True, False])
def test_a_payload_adapts_to_the_result_the_encoder_predicts(encoder: ResultEncoder, success: bool) -> None:
    simulated = sample(score=0.8125 if success else 0.3333, success=success)
    value, headers = encoder.encode(simulated, source="ignored", event_id="r-1")
    [adapted] = adapt(encoder, value, headers)
    seen = encoder.observed(simulated)
    assert adapted.issuer_id == PROFILE.issuer_id == "issuer-u"
    assert adapted.learner.id == seen.learner_id == encoder.learner_ref(simulated.learner_id)
    assert adapted.activity_id == QUIZ
    assert adapted.score is not None and adapted.score.scaled == pytest.approx(seen.score, abs=1e-12)
    assert adapted.success == seen.success
    assert adapted.completion == seen.completion
    assert adapted.occurred_at == simulated.occurred_at
    # The same result encodes to the same payload, so a duplicate is the same result id.
    again, _ = encoder.encode(simulated, source="ignored", event_id="r-2")
    assert adapt(encoder, again, headers)[0].result_id == adapted.result_id


def test_learner_references_per_format_follow_the_identity_keys_and_mapping() -> None:
    x, c, lti_encoder = FOREIGN
    assert x.learner_ref("sim-r-00001") == f"account:{SCENARIO.source}|sim-r-00001"
    assert x.learner_ref(MAPPED) == "learner-mapped"  # mapped in the LMS configuration
    assert c.learner_ref("sim-r-00001") == f"{SCENARIO.source}/users/sim-r-00001"
    assert isinstance(lti_encoder, LtiEncoder)
    assert lti_encoder.learner_ref("sim-r-00001") == f"lti:{lti_encoder.sub('sim-r-00001')}"
    assert ContractEncoder().learner_ref("sim-r-00001") == "sim-r-00001"
    [mapped] = adapt(x, *x.encode(sample(MAPPED), source="s", event_id="e"))
    assert mapped.learner.id == "learner-mapped"


@pytest.mark.parametrize("encoder", FOREIGN, ids=lambda e: e.format)
@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_every_malformed_variant_is_refused(encoder: ResultEncoder, kind: str) -> None:
    import random

    value = encoder.malformed_value(
        kind, random.Random(1), issuer_id="issuer-u", learner_id="sim-r-1", activity=EXAM
    )
    headers = encoder.encode_malformed(
        MalformedRecord(kind, "sim-r-1", value, EXAM), source="s", event_id="b"
    )
    if kind == "invalid_json":
        with pytest.raises(ValueError):
            json.loads(value)
        return
    with pytest.raises(IngestRejected) as refused:
        adapt(encoder, value, headers)
    assert refused.value.reason == kind


def test_a_mixed_plan_expects_what_the_platform_policy_makes_of_the_adapted_results() -> None:
    rules = [SCORED, SUCCESS, OPEN]
    run = plan(
        rules, learners=80, run_id="r", seed=5, malformed_rate=0.05, encoders=encoders(
            ("credstream", "xapi", "caliper", "lti"), TARGET
        ),
    )  # fmt: skip
    per_format = run.summary()["formats"]
    assert set(per_format) == {"credstream", "xapi", "caliper", "lti"}
    assert all(f["learners"] == 20 and f["records"] > 0 for f in per_format.values())
    assert sum(f["malformed"] for f in per_format.values()) == run.expected_dlq >= 3
    # One format per learner, so one learner reference per learner.
    formats: dict[str, set[str]] = {}
    for send in run.sends:
        if send.result is not None:
            formats.setdefault(send.result.learner_id, set()).add(send.format)
    assert all(len(f) == 1 for f in formats.values())

    # The platform's view: each valid record through its adapter, then the domain's policy.
    adapted: dict[str, list[AssessmentResultSubmitted]] = {}
    for send in run.sends:
        if send.result is None:
            continue
        encoder = run.encoder_of(send)
        value, headers = encoder.encode(send.result, source=run.source, event_id=send.event_id)
        results = (
            [AssessmentResultSubmitted.model_validate_json(value)]
            if encoder.format == "credstream"
            else adapt(encoder, value, headers)
        )
        for r in results:
            adapted.setdefault(r.learner.id, []).append(r)
    assert set(adapted) <= set(run.learners)
    platform: set[tuple[str, str]] = set()
    for learner, results in adapted.items():
        for rule in rules:
            criteria = Criteria(rule.required_activity_ids, rule.min_scaled_score, rule.require_success)
            if all(
                any(r.activity_id == a and passes(criteria, _domain(r)) for r in results)
                for a in rule.required_activity_ids
            ):
                platform.add((learner, rule.achievement_id))
    assert platform == run.expected_earned
    # Caliper and LTI report no success: their learners can earn "open" and "scored" only.
    lms_only = {
        run.learner_refs[learner] for learner, f in run.learner_formats.items() if f in ("caliper", "lti")
    }
    assert not any(a == "success" for learner, a in platform if learner in lms_only)
    assert any(a == "success" for _, a in platform)


def _domain(r: AssessmentResultSubmitted) -> Result:
    return Result(
        result_id=r.result_id,
        activity_id=r.activity_id,
        score_scaled=r.score.scaled if r.score is not None else None,
        success=r.success,
        completion=r.completion,
        occurred_at=r.occurred_at,
    )
