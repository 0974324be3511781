"""Hypothesis strategies for the credentials credstream issues: what `build_credential` makes from
generated specifications, issuers, learners, QA references and status entries, plus the optional
Open Badges 3.0 elements a credential may carry (evidence, results, result descriptions with
`@list` allowed values, images, tags, further alignments, activity dates), with any Unicode text
and every kind of JSON number. Used by the fast-path differential tests and the interop test."""

from __future__ import annotations

import string
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from contracts.ids import credential_id
from services.issuance.credential import build_credential
from services.issuance.domain import (
    Award,
    IssuerProfile,
    Learner,
    LearningOutcome,
    MicroCredentialSpec,
    QualityAssuranceRef,
)
from vc.status import status_entry as entry

# Text without the characters whose canonical escaping RDFC-1.0 changed from URDNA2015 (C0 and
# C1 controls other than TAB, LF, CR, then DEL and the non-characters U+FFFE/U+FFFF): pyld writes
# them raw, RDFC-1.0 Appendix A as \uXXXX (or \b, \f). Only comparisons with pyld's URDNA2015 need it.
URDNA2015_TEXT = st.text(
    st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="\ufffe\uffff")
    | st.sampled_from("\t\n\r"),
    max_size=30,
)
ANY_TEXT = st.text(max_size=30)
# Text a JavaScript verifier canonicalizes as we do: Digital Bazaar's rdf-canonize writes U+FFFE
# and U+FFFF as themselves, rdf.py escapes them (see test_fast_path_interop.py).
INTEROP_TEXT = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\ufffe\uffff"), max_size=30
)
_FLOATS = st.floats(allow_nan=False, allow_infinity=False)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**25), max_value=10**25),
    _FLOATS,
    st.sampled_from([0, 1, -1, 0.5, 2.0, 1e21, 1e-7, 123456789.125, 10**21, 10**21 - 1, -0.0]),
)
# I-JSON (RFC 7493) numbers: integers beyond 2^53 - 1 do not survive a JavaScript JSON.parse.
I_JSON_NUMBERS = st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1) | _FLOATS
_SEGMENT = st.text(
    string.ascii_letters + string.digits + "-._~%!$&'()*+,;=@" + "éß€中😀", min_size=1, max_size=12
)
IRIS = st.one_of(
    _SEGMENT.map(lambda s: f"https://example.org/{s}"),
    _SEGMENT.map(lambda s: f"urn:example:{s}"),
    st.uuids().map(lambda u: f"urn:uuid:{u}"),
    _SEGMENT.map(lambda s: f"did:example:{s}"),
)
TIMES = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC))


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@st.composite
def credentials(
    draw: st.DrawFn, text: st.SearchStrategy[str] = ANY_TEXT, numbers: st.SearchStrategy[float] = NUMBERS
) -> dict[str, Any]:
    """One unsigned credential as the issuance service builds it, with generated content."""
    optional_text = st.none() | text
    outcomes = draw(
        st.lists(
            st.builds(LearningOutcome.model_construct, outcome=text, esco_skill=st.none() | IRIS),
            min_size=1,
            max_size=3,
        )
    )
    qa_fields: dict[str, Any] = dict(
        qa_type=draw(st.sampled_from(["internal", "external"])),
        description=draw(text),
        agency_did=draw(st.none() | IRIS),
        agency_name=draw(optional_text),
        standard=draw(optional_text),
        decision=draw(optional_text),
        attestation_id=draw(st.none() | IRIS),
        report_url=draw(st.none() | IRIS),
    )
    qa = QualityAssuranceRef.model_construct(**qa_fields)
    # Not validated: the canonical form must match for any value, not only those the API admits.
    spec_fields: dict[str, Any] = dict(
        achievement_id="a",
        issuer_id="i",
        name=draw(text),
        description=draw(text),
        criteria_narrative=draw(text),
        learning_outcomes=outcomes,
        ects_credits=draw(st.none() | numbers),
        workload_hours=draw(st.none() | numbers),
        eqf_level=draw(numbers),
        assessment_type=draw(text),
        participation_form=draw(text),
        supervision=draw(text),
        prerequisites=draw(optional_text),
        stackability=draw(optional_text),
        further_information=draw(st.none() | IRIS),
        language=draw(st.sampled_from(["en", "fi", "de-AT", "zh-Hant"])),
        valid_for_days=draw(st.none() | st.integers(min_value=1, max_value=36500)),
        quality_assurance=qa,
    )
    spec = MicroCredentialSpec.model_construct(**spec_fields)
    issuer_fields: dict[str, Any] = dict(
        issuer_id="i",
        name=draw(text),
        url=draw(st.none() | IRIS),
        country_code=draw(st.sampled_from(["FI", "DE", "NL"])),
        region=draw(optional_text),
    )
    issuer = IssuerProfile.model_construct(**issuer_fields)
    learner = Learner(learner_id=draw(text), email=draw(st.none() | st.emails()), did=draw(st.none() | IRIS))
    issued_at = draw(TIMES)
    list_url = draw(IRIS)
    statuses = [
        entry(list_url, draw(st.integers(min_value=0, max_value=131071)), purpose)
        for purpose in draw(st.sampled_from([(), ("revocation",), ("revocation", "suspension")]))
    ]
    document = build_credential(
        credential_id=credential_id(draw(text)),
        issuer=issuer,
        issuer_did=draw(IRIS),
        spec=spec,
        achievement_url=draw(IRIS),
        award=Award("e", "i", "a", 1, learner, draw(TIMES)),
        issued_at=issued_at,
        salt=draw(st.text("0123456789abcdef", min_size=32, max_size=32)),
        quality_assurance=draw(st.none() | st.just(qa)),
        status_entries=statuses or None,
    )
    _add_open_badges_extras(draw, document, text, numbers)
    return document


def _add_open_badges_extras(
    draw: st.DrawFn, document: dict[str, Any], text: st.SearchStrategy[str], numbers: st.SearchStrategy[float]
) -> None:
    """Optional OB 3.0 elements (each present or not), in the shapes the OB context defines."""
    subject = document["credentialSubject"]
    achievement = subject["achievement"]
    if draw(st.booleans()):
        document["evidence"] = [
            {"type": ["Evidence"], "name": draw(text), "narrative": draw(text), "genre": draw(text)}
            | ({"id": draw(IRIS)} if draw(st.booleans()) else {})
            | ({"audience": draw(text), "description": draw(text)} if draw(st.booleans()) else {})
            for _ in range(draw(st.integers(1, 2)))
        ]
    if draw(st.booleans()):
        description_id = draw(IRIS)
        achievement["resultDescription"] = [
            {
                "id": description_id,
                "type": ["ResultDescription"],
                "name": draw(text),
                "resultType": draw(st.sampled_from(["LetterGrade", "Percent", "Status"])),
                "allowedValue": draw(st.lists(text, max_size=4)),
                "requiredValue": draw(text),
                "valueMin": draw(text),
                "valueMax": draw(text),
            }
        ]
        subject["result"] = [
            {
                "type": ["Result"],
                "resultDescription": description_id,
                "value": draw(text),
                "status": draw(st.sampled_from(["Completed", "Enrolled", "Failed"])),
            }
        ]
    if draw(st.booleans()):
        achievement["image"] = {"id": draw(IRIS), "type": "Image", "caption": draw(text)}
        achievement["tag"] = draw(st.lists(text, max_size=3))
        achievement["alignment"] = [
            *achievement.get("alignment", []),
            {
                "type": ["Alignment"],
                "targetName": draw(text),
                "targetUrl": draw(IRIS),
                "targetCode": draw(text),
                "targetDescription": draw(text),
                "targetFramework": "EQF",
                "targetType": "CFItem",
            },
        ]
    if draw(st.booleans()):
        subject["activityStartDate"] = _stamp(draw(TIMES))
        subject["activityEndDate"] = _stamp(draw(TIMES))
        subject["creditsEarned"] = draw(numbers)
        achievement["version"] = draw(text)
        achievement["humanCode"] = draw(text)
        achievement["fieldOfStudy"] = draw(text)
