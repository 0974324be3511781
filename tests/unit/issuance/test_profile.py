"""credstream's micro-credential profile (JSON Schema, checked before signing and by the verifier)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from services.issuance.assurance import unassured
from services.issuance.credential import build_credential
from services.issuance.domain import Award, IssuerProfile, Learner, MicroCredentialSpec
from services.issuance.profile import claims_profile, validate_profile
from tests.fixtures.issuance import IssuerScenario
from vc.status import status_entry as entry

SCENARIO = IssuerScenario()
SPEC = MicroCredentialSpec.model_validate(SCENARIO.achievement())
ISSUER = IssuerProfile.model_validate(SCENARIO.issuer())


def credential() -> dict[str, Any]:
    award = Award(
        earned_id="urn:uuid:6d1f6c1e-1f7e-4f8e-9a55-2b7f4c7d9a10",
        issuer_id=ISSUER.issuer_id,
        achievement_id=SPEC.achievement_id,
        award=1,
        learner=Learner(learner_id="learner-1", email="ada@example.org", name="Ada", did=None),
        earned_at=datetime(2026, 6, 1, tzinfo=UTC),
    )
    lists = "https://status.example/issuers/x/revocation/1"
    return build_credential(
        credential_id="urn:uuid:0b8f7f4e-7a43-4c1d-9a2e-3f1d2c4b5a69",
        issuer=ISSUER,
        issuer_did="did:web:issuance.example:issuers:x",
        spec=SPEC,
        achievement_url="https://issuance.example/issuers/x/achievements/a",
        award=award,
        issued_at=datetime(2026, 6, 1, 12, tzinfo=UTC),
        salt="00" * 16,
        quality_assurance=unassured(SPEC),
        status_entries=[
            entry(lists, 7, "revocation"),
            entry(lists.replace("revocation", "suspension"), 9, "suspension"),
        ],
    )


def test_what_the_issuer_builds_conforms_and_claims_the_profile() -> None:
    document = credential()
    assert claims_profile(document)
    assert validate_profile(document) == []


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (("credentialSubject", "achievement", "eqfLevel"), 9, "credentialSubject/achievement/eqfLevel"),
        (("validFrom",), "yesterday", "validFrom"),  # a format assertion (date-time)
        (("credentialSubject", "achievement", "participationForm"), "by post", "participationForm"),
        (("issuer", "name"), "", "issuer/name"),
    ],
)
def test_each_departure_is_reported_with_its_path(path: tuple[str, ...], value: object, problem: str) -> None:
    document = copy.deepcopy(credential())
    target = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    problems = validate_profile(document)
    assert problems, "the departure must be reported"
    assert any(p.startswith(problem) or f"/{problem}" in p.split(":")[0] for p in problems), problems


def test_a_missing_mandatory_element_is_reported() -> None:
    document = copy.deepcopy(credential())
    del document["credentialSubject"]["achievement"]["learningOutcome"]
    assert any("learningOutcome" in p for p in validate_profile(document))
