"""The QA contracts grew additively in 1.1.0: payloads written to 1.0.0 still parse."""

from __future__ import annotations

from contracts.v1.qa import AttestationGranted, AttestationSubmitted


def test_a_granted_payload_without_the_agency_details_and_endorsement_still_parses() -> None:
    old = (
        b'{"attestation_id": "urn:uuid:1", "agency_id": "haka", "subject": {"kind": "issuer", "id": "uni"},'
        b' "decision": "positive", "standard": "ESG 2015", "valid_from": "2026-01-01T00:00:00Z",'
        b' "occurred_at": "2026-01-01T00:00:00Z"}'
    )
    event = AttestationGranted.model_validate_json(old)
    assert (event.agency_did, event.agency_name, event.endorsement) == (None, None, None)


def test_a_submission_without_an_attestation_id_still_parses() -> None:
    old = b'{"agency_id": "haka", "action": "grant", "endorsement": {"id": "urn:uuid:1"}}'
    assert AttestationSubmitted.model_validate_json(old).attestation_id is None
