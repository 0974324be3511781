"""Which attestation covers an award at the time of issue (issuance's QA rule), without I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from services.issuance.assurance import QaAttestation, covering, unassured
from services.issuance.domain import IssuerProfile, MicroCredentialSpec
from tests.fixtures.issuance import IssuerScenario

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SCENARIO = IssuerScenario()
SPEC = MicroCredentialSpec.model_validate(SCENARIO.achievement())  # EQF 6
ISSUER = IssuerProfile.model_validate(SCENARIO.issuer())  # EE


def attestation(**changes: Any) -> QaAttestation:
    base = QaAttestation(
        attestation_id="urn:uuid:issuer-level",
        agency_id="haka",
        agency_did="did:key:z6Mkhaka",
        agency_name="HAKA",
        subject_kind="issuer",
        subject_id=ISSUER.issuer_id,
        decision="positive",
        scope={},
        standard="ESG 2015",
        report_url="https://www.eqar.eu/qa-results/report/1",
        valid_from=NOW - timedelta(days=30),
        valid_until=NOW + timedelta(days=30),
        status="active",
        withdrawn_at=None,
        endorsement_id="urn:uuid:issuer-level",
    )
    return replace(base, **changes)


def test_programme_level_qa_is_preferred_to_institutional_qa() -> None:
    programme = attestation(attestation_id="urn:uuid:programme", subject_kind="achievement", subject_id="x")
    chosen, reason = covering([attestation(), programme], SPEC, ISSUER, NOW)
    assert chosen is programme and reason == ""


def test_an_attestation_stops_covering_when_its_window_ends_even_while_still_marked_active() -> None:
    ended = attestation(valid_until=NOW - timedelta(seconds=1))
    chosen, reason = covering([ended], SPEC, ISSUER, NOW)
    assert chosen is None and reason.startswith("qa_expired: the QA attestation urn:uuid:issuer-level")


def test_withdrawn_negative_and_future_attestations_do_not_cover_and_say_why() -> None:
    withdrawn = attestation(status="withdrawn", withdrawn_at=NOW - timedelta(days=1))
    assert covering([withdrawn], SPEC, ISSUER, NOW)[1].startswith("qa_withdrawn:")
    assert covering([attestation(decision="negative")], SPEC, ISSUER, NOW)[1].startswith("qa_negative:")
    future = attestation(valid_from=NOW + timedelta(days=1))
    assert covering([future], SPEC, ISSUER, NOW)[1].startswith("qa_not_yet_valid:")


def test_a_withdrawal_with_a_future_effective_date_still_covers_until_then() -> None:
    pending = attestation(status="withdrawn", withdrawn_at=NOW + timedelta(days=1))
    assert covering([pending], SPEC, ISSUER, NOW)[0] is pending


def test_scope_limits_by_eqf_level_and_jurisdiction() -> None:
    assert covering([attestation(scope={"eqf_levels": [6, 7]})], SPEC, ISSUER, NOW)[0] is not None
    assert covering([attestation(scope={"eqf_levels": [4, 5]})], SPEC, ISSUER, NOW)[1].startswith(
        "qa_missing"
    )
    assert covering([attestation(scope={"jurisdictions": ["FI"]})], SPEC, ISSUER, NOW)[0] is None
    subject = f"achievement {SPEC.achievement_id} or issuer {ISSUER.issuer_id}"
    assert covering([], SPEC, ISSUER, NOW)[1] == f"qa_missing: no valid QA attestation covers {subject}"


def test_the_credential_element_names_agency_decision_standard_report_and_attestation() -> None:
    element = attestation(decision="positive_with_conditions").reference()
    assert element.qa_type == "external"
    assert (element.agency_did, element.agency_name, element.standard) == (
        "did:key:z6Mkhaka",
        "HAKA",
        "ESG 2015",
    )
    assert (element.decision, element.attestation_id) == ("positive_with_conditions", "urn:uuid:issuer-level")
    assert str(element.report_url) == "https://www.eqar.eu/qa-results/report/1"
    assert "positive with conditions" in element.description
    assert unassured(SPEC).description.startswith("No external QA")
