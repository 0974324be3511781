"""Builds the unsigned Open Badges 3.0 / VC 2.0 micro-credential. Pure: no I/O, no clock.

Where each EU Annex I element goes (docs/issuance.md has the full table):

| element | place |
|---|---|
| learner identification | `credentialSubject.identifier` (salted, hashed IdentityObject) / `.id` (DID) |
| title | `achievement.name` (and the credential `name`) |
| country/region of the issuer | `issuer.address.addressCountryCode` / `addressRegion` |
| awarding body | `issuer` (Profile: id, name, url) |
| date of issue | `validFrom` and `awardedDate` |
| learning outcomes | `achievement.learningOutcome` (+ ESCO skills in `achievement.alignment`) |
| notional workload | `achievement.ectsCredits` / `workloadHours` (+ OB `creditsAvailable`) |
| level | `achievement.eqfLevel` |
| type of assessment | `achievement.assessmentType` |
| form of participation | `achievement.participationForm` |
| type of quality assurance | `achievement.qualityAssurance` |
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.issuance.domain import (
    Award,
    IssuerProfile,
    MicroCredentialSpec,
    QualityAssuranceRef,
    identity_hash,
)
from services.issuance.profile import SCHEMA_URL

VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CREDSTREAM_V1 = "https://credstream.dev/contexts/micro-credential/v1"
CONTEXTS = [VC_V2, OB_V3, CREDSTREAM_V1]


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def issuer_profile(issuer: IssuerProfile, did: str) -> dict[str, Any]:
    address: dict[str, Any] = {"type": ["Address"], "addressCountryCode": issuer.country_code}
    if issuer.region:
        address["addressRegion"] = issuer.region
    profile: dict[str, Any] = {"id": did, "type": ["Profile"], "name": issuer.name, "address": address}
    if issuer.url:
        profile["url"] = str(issuer.url)
    return profile


def achievement_node(
    spec: MicroCredentialSpec, achievement_url: str, quality_assurance: QualityAssuranceRef | None = None
) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": achievement_url,
        "type": ["Achievement"],
        "achievementType": "MicroCredential",
        "name": spec.name,
        "description": spec.description,
        "criteria": {"narrative": spec.criteria_narrative},
        "inLanguage": spec.language,
        "learningOutcome": [
            {"type": ["LearningOutcome"], "outcome": lo.outcome}
            | ({"escoSkill": str(lo.esco_skill)} if lo.esco_skill else {})
            for lo in spec.learning_outcomes
        ],
        "eqfLevel": spec.eqf_level,
        "assessmentType": spec.assessment_type,
        "participationForm": spec.participation_form,
        "supervisionAndIdentityVerification": spec.supervision,
        "qualityAssurance": _quality_assurance(quality_assurance or spec.quality_assurance),
    }
    skills = [lo for lo in spec.learning_outcomes if lo.esco_skill]
    if skills:
        node["alignment"] = [
            {
                "type": ["Alignment"],
                "targetName": lo.outcome[:512],
                "targetUrl": str(lo.esco_skill),
                "targetType": "ceasn:Competency",
                "targetFramework": "ESCO",
            }
            for lo in skills
        ]
    if spec.ects_credits is not None:
        node["ectsCredits"] = spec.ects_credits
        node["creditsAvailable"] = spec.ects_credits
    if spec.workload_hours is not None:
        node["workloadHours"] = spec.workload_hours
    for key, value in (
        ("prerequisites", spec.prerequisites),
        ("stackability", spec.stackability),
        ("furtherInformation", str(spec.further_information) if spec.further_information else None),
    ):
        if value is not None:
            node[key] = value
    return node


def _quality_assurance(qa: QualityAssuranceRef) -> dict[str, Any]:
    node: dict[str, Any] = {
        "type": ["QualityAssurance"],
        "qaType": qa.qa_type,
        "qaDescription": qa.description,
    }
    for key, value in (
        ("agency", qa.agency_did),
        ("agencyName", qa.agency_name),
        ("standard", qa.standard),
        ("decision", qa.decision),
        # The agency's signed EndorsementCredential: its id, served by the QA service's public
        # register (/register/attestations/...), so a verifier can fetch and check it.
        ("attestation", qa.attestation_id),
        ("reportUrl", str(qa.report_url) if qa.report_url else None),
    ):
        if value is not None:
            node[key] = value
    return node


def build_credential(
    *,
    credential_id: str,
    issuer: IssuerProfile,
    issuer_did: str,
    spec: MicroCredentialSpec,
    achievement_url: str,
    award: Award,
    issued_at: datetime,
    salt: str,
    quality_assurance: QualityAssuranceRef | None = None,
    status_entries: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The unsigned credential for one award; `quality_assurance` (from the QA view at the time of
    issue) replaces the specification's own element, and `status_entries` become its
    `credentialStatus` (one BitstringStatusListEntry per purpose). The learner appears only as a
    salted hash of their e-mail (or provider id) and, when known, their DID."""
    learner = award.learner
    identity, identity_type = (
        (learner.email.lower(), "emailAddress") if learner.email else (learner.learner_id, "sourcedId")
    )
    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "identifier": [
            {
                "type": "IdentityObject",
                "hashed": True,
                "identityHash": identity_hash(identity, salt),
                "identityType": identity_type,
                "salt": salt,
            }
        ],
        "achievement": achievement_node(spec, achievement_url, quality_assurance),
    }
    if learner.did:
        subject = {"id": learner.did, **subject}
    if spec.ects_credits is not None:
        subject["creditsEarned"] = spec.ects_credits
    credential: dict[str, Any] = {
        "@context": list(CONTEXTS),
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": spec.name,
        "issuer": issuer_profile(issuer, issuer_did),
        "validFrom": _timestamp(issued_at),
        "awardedDate": _timestamp(award.earned_at),
        "credentialSubject": subject,
        "credentialSchema": [{"id": SCHEMA_URL, "type": "JsonSchema"}],
    }
    if spec.valid_for_days:
        credential["validUntil"] = _timestamp(issued_at + timedelta(days=spec.valid_for_days))
    if status_entries:
        credential["credentialStatus"] = status_entries
    return credential
