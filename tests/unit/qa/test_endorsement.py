"""The QA service's reading of an agency's EndorsementCredential and its rules, without I/O."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from deploy.tools.agency_attest import endorsement
from services.qa.domain import Agency, QaRejected, Remit, Scope, check_no_wider, check_remit, check_validity
from services.qa.endorsement import read_claim, verify_signature
from vc import keys, multibase, proofs

SEED = bytes(range(32))
SECRET = multibase.encode_secret_key(SEED)
PUBLIC = multibase.encode_public_key(keys.public_key_of(SEED))
NOW = datetime.now(UTC)


def agency(**changes: Any) -> Agency:
    values: dict[str, Any] = {
        "agency_id": "haka",
        "did": f"did:key:{PUBLIC}",
        "name": "HAKA",
        "country_code": "EE",
        "standards": ["ESG 2015"],
        "public_keys": [PUBLIC],
        "remit": Remit(jurisdictions=["EE", "LV"], eqf_levels=[5, 6, 7]),
    }
    return Agency(**{**values, **changes})


def signed(**qa: Any) -> dict[str, Any]:
    qa.setdefault("standard", "ESG 2015")
    qa.setdefault("scopeJurisdiction", ["EE"])
    qa.setdefault("scopeEqfLevel", [6])
    return endorsement(SECRET, "urn:credstream:achievement:data-101", **qa)


def rejected(call: Any) -> QaRejected:
    with pytest.raises(QaRejected) as caught:
        call()
    return caught.value


def test_a_signed_endorsement_states_its_attestation_and_verifies_with_the_registered_key() -> None:
    document = signed(reportUrl="https://deqar.eu/r/1", decision="positive_with_conditions")
    claim = read_claim(document)
    assert (claim.subject_kind, claim.subject_id) == ("achievement", "data-101")
    assert (claim.action, claim.decision, claim.standard) == ("grant", "positive_with_conditions", "ESG 2015")
    assert claim.report_url == "https://deqar.eu/r/1"
    assert claim.scope.jurisdictions == ["EE"] and claim.scope.eqf_levels == [6]
    assert claim.valid_until is not None and claim.valid_until > claim.valid_from
    verify_signature(document, agency(), now=NOW)
    check_remit(agency(), claim)
    check_validity(claim, NOW)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("type",), ["VerifiableCredential"], "EndorsementCredential"),
        (("credentialSubject", "id"), "https://example.org/x", "urn:credstream:issuer"),
        (("credentialSubject", "type"), ["AchievementSubject"], "EndorsementSubject"),
        (("credentialSubject", "qualityAssurance", "decision"), "excellent", "decision"),
        (("credentialSubject", "qualityAssurance", "attestationAction"), "revoke", "attestationAction"),
        (("credentialSubject", "qualityAssurance", "standard"), "", "standard"),
        (("credentialSubject", "qualityAssurance", "scopeEqfLevel"), ["six"], "scopeEqfLevel"),
        (("validFrom",), "yesterday", "validFrom"),
    ],
)
def test_what_is_not_an_attestation_is_refused_as_endorsement_invalid(
    path: tuple[str, ...], value: Any, message: str
) -> None:
    document = copy.deepcopy(signed())
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    error = rejected(lambda: read_claim(document))
    assert error.reason == "endorsement_invalid" and message in str(error)


def test_renewal_and_withdrawal_must_name_the_attestation() -> None:
    error = rejected(lambda: read_claim(signed(attestationAction="renew")))
    assert error.reason == "endorsement_invalid" and "attestation" in str(error)


def test_a_changed_document_or_a_missing_proof_fails_the_signature_check() -> None:
    document = signed()
    changed = copy.deepcopy(document)
    changed["credentialSubject"]["qualityAssurance"]["scopeEqfLevel"] = [7]
    assert rejected(lambda: verify_signature(changed, agency(), now=NOW)).reason == "signature_invalid"
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    error = rejected(lambda: verify_signature(unsigned, agency(), now=NOW))
    assert error.reason == "proof_invalid" and "PROOF_MISSING" in str(error)


def test_a_key_the_register_does_not_hold_is_refused_even_with_a_valid_signature() -> None:
    other = keys.generate_seed()
    other_public = multibase.encode_public_key(keys.public_key_of(other))
    document = endorsement(SECRET, "urn:credstream:issuer:x", standard="ESG 2015")
    # The agency's did:web as issuer, validly signed, but with a key the register does not list.
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    unsigned["issuer"] = {"id": "did:web:haka.example", "type": ["Profile"], "name": "HAKA"}
    signer = keys.Ed25519Signer(f"did:key:{other_public}#{other_public}", other)
    forged = proofs.create_proof(unsigned, signer=signer)
    registered = agency(did="did:web:haka.example", public_keys=[PUBLIC])
    error = rejected(lambda: verify_signature(forged, registered, now=NOW))
    assert error.reason == "key_not_registered" and other_public in str(error)


@pytest.mark.parametrize(
    ("qa", "remit", "message"),
    [
        ({"standard": "EQAVET"}, Remit(), "standard 'EQAVET'"),
        ({"scopeJurisdiction": ["EE", "FI"]}, Remit(jurisdictions=["EE"]), "jurisdiction FI"),
        ({"scopeEqfLevel": [8]}, Remit(eqf_levels=[5, 6]), "EQF level 8"),
        ({}, Remit(subject_kinds=["issuer"]), "may not attest achievement"),
    ],
)
def test_claims_outside_the_agency_remit_are_refused(qa: dict[str, Any], remit: Remit, message: str) -> None:
    claim = read_claim(signed(**qa))
    error = rejected(lambda: check_remit(agency(remit=remit), claim))
    assert error.reason == "out_of_remit" and message in str(error)


def test_a_limited_remit_needs_the_scope_to_state_that_axis() -> None:
    document = endorsement(SECRET, "urn:credstream:issuer:x", standard="ESG 2015")
    error = rejected(lambda: check_remit(agency(remit=Remit(jurisdictions=["EE"])), read_claim(document)))
    assert error.reason == "out_of_remit" and "must state it" in str(error)


def test_an_ended_or_inverted_validity_window_is_inconsistent() -> None:
    ended = read_claim(signed(valid_from=NOW - timedelta(days=10), valid_until=NOW - timedelta(days=1)))
    assert rejected(lambda: check_validity(ended, NOW)).reason == "validity_inconsistent"
    inverted = read_claim(signed(valid_from=NOW + timedelta(days=10), valid_until=NOW + timedelta(days=1)))
    assert "not after validFrom" in str(rejected(lambda: check_validity(inverted, NOW)))


def test_a_did_key_agency_registers_the_key_its_did_names() -> None:
    with pytest.raises(ValueError, match="exactly one key"):
        agency(public_keys=[multibase.encode_public_key(keys.public_key_of(keys.generate_seed()))])


@pytest.mark.parametrize(
    ("renewed", "message"),
    [
        (Scope(jurisdictions=["EE", "LV"], eqf_levels=[6]), "jurisdiction LV is outside"),
        (Scope(eqf_levels=[6]), "limited by jurisdiction"),
        (Scope(jurisdictions=["EE"], eqf_levels=[6, 7]), "EQF level 7 is outside"),
        (Scope(jurisdictions=["EE"]), "limited by EQF level"),
    ],
)
def test_a_renewal_may_not_widen_the_scope_it_renews(renewed: Scope, message: str) -> None:
    granted = Scope(jurisdictions=["EE"], eqf_levels=[5, 6])
    refused = rejected(lambda: check_no_wider(granted, renewed))
    assert refused.reason == "scope_widened" and message in str(refused)


def test_a_renewal_keeps_narrows_or_limits_an_open_axis() -> None:
    granted = Scope(jurisdictions=["EE", "LV"])
    check_no_wider(granted, granted)
    check_no_wider(granted, Scope(jurisdictions=["LV"]))
    check_no_wider(granted, Scope(jurisdictions=["EE"], eqf_levels=[6], fields=["0610"]))
