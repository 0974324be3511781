"""The issuance HTTP API on the real database: key rotation, VC-API issue and verify, problems."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import httpx
import pytest

from deploy.local.runner import Stack
from services.runtime.process import ServiceHost
from tests.fixtures.interop import verify_with_digitalbazaar
from tests.fixtures.issuance import ADMIN, IssuerScenario

pytestmark = pytest.mark.integration


def _unsigned(issuer_did: str, scenario: IssuerScenario, base_url: str) -> dict[str, Any]:
    return {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
            "https://credstream.dev/contexts/micro-credential/v1",
        ],
        "id": "urn:uuid:0f8a4a0e-6f53-4a43-9d0b-3b1c3b6f0001",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": issuer_did, "type": ["Profile"], "name": "Test University",
                   "address": {"type": ["Address"], "addressCountryCode": "EE"}},
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {
            "id": "did:example:learner-1",
            "type": ["AchievementSubject"],
            "achievement": {
                "id": f"{base_url}/issuers/{scenario.issuer_id}/achievements/{scenario.achievement_id}",
                "type": ["Achievement"], "achievementType": "MicroCredential", "name": "Direct issue",
                "description": "Issued through the VC-API.", "criteria": {"narrative": "Met."},
                "learningOutcome": [{"type": ["LearningOutcome"], "outcome": "Something learned."}],
                "ectsCredits": 1, "eqfLevel": 5, "assessmentType": "project", "participationForm": "online",
                "qualityAssurance": {"type": ["QualityAssurance"], "qaType": "internal",
                                     "qaDescription": "Internal."},
            },
        },
        "credentialSchema": [{"id": "https://credstream.dev/schemas/micro-credential/v1.json",
                              "type": "JsonSchema"}],
    }  # fmt: skip


async def test_rotation_keeps_old_credentials_verifying_and_vc_api_issue_and_verify(
    stack: Stack, issuance: ServiceHost
) -> None:
    base_url = f"http://127.0.0.1:{stack.ports['issuance']}"
    scenario = IssuerScenario()
    await scenario.define(base_url)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        did_doc = (await client.get(f"/issuers/{scenario.issuer_id}/did.json")).json()
        unsigned = _unsigned(did_doc["id"], scenario, base_url)
        first = await client.post("/credentials/issue", json={"credential": unsigned}, headers=ADMIN)
        assert first.status_code == 201, first.text
        old = first.json()["verifiableCredential"]
        assert old["proof"]["verificationMethod"] == did_doc["assertionMethod"][0]

        rotated = await client.post(f"/admin/issuers/{scenario.issuer_id}/keys/rotate", headers=ADMIN)
        new_key = rotated.json()["active_key"]
        did_doc = (await client.get(f"/issuers/{scenario.issuer_id}/did.json")).json()
        assert did_doc["assertionMethod"][0] == new_key
        assert old["proof"]["verificationMethod"] in did_doc["assertionMethod"], "retired key still listed"
        assert len(did_doc["verificationMethod"]) == 2
        new = (await client.post("/credentials/issue", json={"credential": unsigned}, headers=ADMIN)).json()
        assert new["verifiableCredential"]["proof"]["verificationMethod"] == new_key

        for credential in (old, new["verifiableCredential"]):
            verified = await client.post("/credentials/verify", json={"verifiableCredential": credential})
            assert verified.status_code == 200 and verified.json()["verified"], verified.text
        # In a thread: the verifier fetches the DID document from this process's HTTP server.
        results = await asyncio.to_thread(
            verify_with_digitalbazaar,
            [old, new["verifiableCredential"]],
            did_web_http=[f"127.0.0.1:{stack.ports['issuance']}"],
            check_status=True,
        )
        assert all(r.verified for r in results), results

        tampered = copy.deepcopy(old)
        tampered["credentialSubject"]["achievement"]["eqfLevel"] = 7
        failed = await client.post("/credentials/verify", json={"verifiableCredential": tampered})
        assert failed.status_code == 400
        assert failed.headers["content-type"].startswith("application/problem+json")
        body = failed.json()
        assert body["verified"] is False
        assert [e["code"] for e in body["errors"]] == ["SIGNATURE_INVALID"]


async def test_precise_problems(stack: Stack, issuance: ServiceHost) -> None:
    base_url = f"http://127.0.0.1:{stack.ports['issuance']}"
    scenario = IssuerScenario()
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        unauthenticated = await client.put(f"/admin/issuers/{scenario.issuer_id}", json=scenario.issuer())
        assert unauthenticated.status_code == 401
        assert unauthenticated.headers["content-type"].startswith("application/problem+json")
        wrong = await client.put(
            f"/admin/issuers/{scenario.issuer_id}",
            json=scenario.issuer(),
            headers={"Authorization": "Bearer x"},
        )
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
        orphan = await client.put(
            f"/admin/achievements/{scenario.achievement_id}", json=scenario.achievement(), headers=ADMIN
        )
        assert orphan.status_code == 404 and orphan.json()["reason"] == "issuer_unknown"
        await scenario.define(base_url)
        no_workload = scenario.achievement(ects_credits=None, workload_hours=None)
        invalid = await client.put(
            f"/admin/achievements/{scenario.achievement_id}", json=no_workload, headers=ADMIN
        )
        assert invalid.status_code == 400 and "notional workload" in invalid.json()["detail"]
        foreign = _unsigned("did:web:elsewhere.example", scenario, base_url)
        refused = await client.post("/credentials/issue", json={"credential": foreign}, headers=ADMIN)
        assert refused.status_code == 422
        did_doc = (await client.get(f"/issuers/{scenario.issuer_id}/did.json")).json()
        undefined = _unsigned(did_doc["id"], scenario, base_url)
        undefined["credentialSubject"]["favouriteColour"] = "blue"
        refused = await client.post("/credentials/issue", json={"credential": undefined}, headers=ADMIN)
        assert refused.status_code == 422 and "favouriteColour" in refused.json()["detail"], refused.text
        missing = await client.get(f"/issuers/{scenario.issuer_id}-nope/did.json")
        assert missing.status_code == 404


async def test_get_on_the_verify_endpoint_is_a_405_naming_post(stack: Stack, issuance: ServiceHost) -> None:
    """`/credentials/{uuid}` once shadowed `GET /credentials/verify` (401 for want of a token)."""
    base_url = f"http://127.0.0.1:{stack.ports['issuance']}"
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        response = await client.get("/credentials/verify")
        not_a_uuid = await client.get("/credentials/not-a-uuid", headers=ADMIN)
    assert response.status_code == 405 and response.headers["allow"] == "POST", response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert not_a_uuid.status_code == 404
