"""Issuance gated by QA on the real broker and database: an award without a covering attestation
waits (parked, with its reason) and is issued exactly once when one arrives, naming its QA;
withdrawal and expiry park later awards (expiry without any event arriving); the withdrawal
policy `suspend` asks for the suspension of what relied on a withdrawn attestation; verification
reports the QA state."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts.topics import ACHIEVEMENTS_EARNED, CREDENTIALS_ISSUED, QA_ATTESTATIONS, STATUS_REQUESTS
from contracts.v1.qa import AttestationGranted, AttestationSubject
from deploy.local.runner import Stack
from deploy.tools.publish import publish_event
from services.runtime.process import ServiceHost
from tests.fixtures.interop import verify_with_digitalbazaar
from tests.fixtures.issuance import ADMIN, IssuerScenario
from tests.fixtures.kafka import Seen, TopicWatcher
from tests.fixtures.qa import AgencyScenario, achievement_subject, issuer_subject, qa_knows, qa_url
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration


def issuance_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.ports['issuance']}"


def issued_for(achievement_id: str) -> Any:
    def match(record: Seen) -> bool:
        return bool(record.json()["achievement_id"] == achievement_id)

    return match


async def earn(producer: AIOKafkaProducer, scenario: IssuerScenario, learner: str) -> str:
    earned = scenario.earned(learner)
    await publish_event(producer, ACHIEVEMENTS_EARNED, earned, key=learner, source="urn:test:assessment")
    return earned.earned_id


async def request_state(stack: Stack, scenario: IssuerScenario, earned_id: str, state: str) -> dict[str, Any]:
    """Wait until the admin listing shows the award in `state`; return its row."""
    found: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=issuance_url(stack), headers=ADMIN, timeout=30) as client:

        async def shown() -> bool:
            rows = (await client.get(f"/admin/issuers/{scenario.issuer_id}/requests")).json()
            found.update(next((r for r in rows if r["earned_id"] == earned_id), {}))
            return found.get("state") == state

        await eventually(shown, timeout=30, what=f"award {earned_id} {state}")
    return found


async def verify(stack: Stack, credential: dict[str, Any], *, expect: int | None = 200) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=issuance_url(stack), timeout=30) as client:
        response = await client.post("/credentials/verify", json={"verifiableCredential": credential})
    assert expect is None or response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


async def count_credentials(stack: Stack, achievement_id: str) -> int:
    conn = await asyncpg.connect(stack.database_url("issuance"))
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM issuance.credentials WHERE achievement_id = $1", achievement_id
            )
        )
    finally:
        await conn.close()


async def test_an_award_waits_for_a_covering_attestation_and_is_then_issued_once_naming_its_qa(
    stack: Stack, issuance: ServiceHost, qa: ServiceHost, producer: AIOKafkaProducer, watch: Any
) -> None:
    issued: TopicWatcher = await watch(CREDENTIALS_ISSUED.name)
    scenario, agency = IssuerScenario(qa_policy="require"), AgencyScenario(jurisdictions=["EE"])
    await scenario.define(issuance_url(stack))
    await agency.register(qa_url(stack))
    await qa_knows(stack, scenario.achievement_id)  # the definition reached qa through Kafka

    earned_id = await earn(producer, scenario, "learner-waits")
    parked = await request_state(stack, scenario, earned_id, "parked")
    assert parked["reason"].startswith("qa_missing: no valid QA attestation covers")
    assert await issued.wait_for(issued_for(scenario.achievement_id), timeout=2) == []

    # The agency attests the issuer (institutional QA); the parked award is released.
    endorsement = agency.endorse(issuer_subject(scenario.issuer_id), scopeEqfLevel=[6, 7])
    await agency.submit(producer, endorsement)
    await agency.submit(producer, endorsement)  # sent twice: still one attestation, one credential
    records = await issued.wait_for(issued_for(scenario.achievement_id), count=1, timeout=30, settle=3.0)
    assert len(records) == 1
    assert await count_credentials(stack, scenario.achievement_id) == 1
    await request_state(stack, scenario, earned_id, "issued")
    credential = records[0].json()["credential"]
    element = credential["credentialSubject"]["achievement"]["qualityAssurance"]
    assert element["qaType"] == "external"
    assert element["agency"] == agency.did
    assert element["agencyName"] == f"Quality Agency {agency.agency_id}"
    assert element["standard"] == "ESG 2015"
    assert element["decision"] == "positive"
    assert element["attestation"] == endorsement["id"]
    assert element["reportUrl"] == "https://www.eqar.eu/qa-results/report/1234"

    result = await verify(stack, credential)
    assert result["verified"] is True
    assert result["qualityAssurance"]["state"] == "valid"
    assert result["qualityAssurance"]["agency"] == agency.did
    # An independent implementation accepts both: the credential with its QA element, and the
    # agency's endorsement it names.
    host = f"127.0.0.1:{stack.ports['issuance']}"
    theirs = await asyncio.to_thread(
        verify_with_digitalbazaar, [credential, endorsement], did_web_http=[host], check_status=True
    )
    assert [r.verified for r in theirs] == [True, True], [r.errors for r in theirs]


async def test_withdrawal_parks_later_awards_and_suspends_what_was_issued_after_its_effective_date(
    stack: Stack, issuance: ServiceHost, qa: ServiceHost, producer: AIOKafkaProducer, watch: Any
) -> None:
    issued: TopicWatcher = await watch(CREDENTIALS_ISSUED.name)
    requests: TopicWatcher = await watch(STATUS_REQUESTS.name)
    scenario = IssuerScenario(qa_policy="require", withdrawal_policy="suspend")
    agency = AgencyScenario()
    await scenario.define(issuance_url(stack))
    await agency.register(qa_url(stack))
    await qa_knows(stack, scenario.achievement_id)  # the definition reached qa through Kafka
    grant = agency.endorse(achievement_subject(scenario.achievement_id))  # programme-level QA
    await agency.submit(producer, grant)

    await earn(producer, scenario, "learner-before")
    [before] = await issued.wait_for(issued_for(scenario.achievement_id), count=1, timeout=30)
    await asyncio.sleep(1.1)  # issue times have one-second precision
    effective = datetime.now(UTC)
    await earn(producer, scenario, "learner-after")
    records = await issued.wait_for(issued_for(scenario.achievement_id), count=2, timeout=30)
    after = records[1]

    # Withdrawn with effect from `effective`, which lies before the second credential was issued.
    withdrawal = agency.endorse(
        achievement_subject(scenario.achievement_id),
        attestationAction="withdraw",
        attestation=grant["id"],
        valid_from=effective,
    )
    await agency.submit(producer, withdrawal)
    suspensions = await requests.wait_for(
        lambda r: r.json()["issuer_id"] == scenario.issuer_id, count=1, timeout=30, settle=2.0
    )
    assert [s.json()["credential_id"] for s in suspensions] == [after.json()["credential_id"]]
    request = suspensions[0].json()
    assert (request["purpose"], request["set"], request["reason_code"]) == (
        "suspension",
        True,
        "qa_attestation_withdrawn",
    )
    assert suspensions[0].key == after.json()["credential_id"].encode()

    late = await earn(producer, scenario, "learner-late")
    parked = await request_state(stack, scenario, late, "parked")
    assert parked["reason"].startswith("qa_withdrawn:")
    assert grant["id"] in parked["reason"]
    async with httpx.AsyncClient(base_url=issuance_url(stack), headers=ADMIN, timeout=30) as client:
        listed = await client.get(f"/admin/issuers/{scenario.issuer_id}/requests", params={"state": "parked"})
    assert [r["earned_id"] for r in listed.json()] == [late]
    assert await count_credentials(stack, scenario.achievement_id) == 2

    result = await verify(stack, before.json()["credential"])
    assert result["verified"] is True, "a credential issued while QA was valid stays valid"
    assert result["qualityAssurance"]["state"] == "withdrawn"
    # The revocation service (running beside issuance) applied the suspension request: the
    # credential issued after the withdrawal's effective date now verifies as suspended.
    seen: dict[str, Any] = {}

    async def suspended() -> bool:
        seen.update(await verify(stack, after.json()["credential"], expect=None))
        return bool(seen.get("status") == {"revocation": "valid", "suspension": "suspended"})

    await eventually(suspended, timeout=30, what="the later credential suspended")
    assert seen["verified"] is False and [e["code"] for e in seen["errors"]] == ["SUSPENDED"]
    assert {"code": "QA_WITHDRAWN", "message": f"attestation {grant['id']} is withdrawn"} in result[
        "warnings"
    ]


async def test_an_attestation_stops_covering_when_it_ends_without_any_event_arriving(
    stack: Stack, issuance: ServiceHost, producer: AIOKafkaProducer, watch: Any
) -> None:
    """The attestation is published on the attestations topic as the QA service would publish it,
    but no QA service watches it: no `expired` event will ever come. Issuance checks the window
    itself at the time of issue."""
    issued: TopicWatcher = await watch(CREDENTIALS_ISSUED.name)
    scenario = IssuerScenario(qa_policy="require")
    await scenario.define(issuance_url(stack))
    now = datetime.now(UTC)
    ends = now + timedelta(seconds=4)
    attestation_id = f"urn:uuid:{uuid.uuid4()}"
    granted = AttestationGranted(
        attestation_id=attestation_id,
        agency_id="agency-direct",
        agency_did="did:key:z6MkexampleDirectAgency",
        agency_name="Direct Agency",
        subject=AttestationSubject(kind="issuer", id=scenario.issuer_id),
        decision="positive_with_conditions",
        standard="EQAVET",
        valid_from=now - timedelta(days=1),
        valid_until=ends,
        endorsement_id=attestation_id,
        occurred_at=now,
    )
    await publish_event(producer, QA_ATTESTATIONS, granted, key=attestation_id, source="urn:test:qa")
    await earn(producer, scenario, "learner-in-time")
    [record] = await issued.wait_for(issued_for(scenario.achievement_id), count=1, timeout=30)
    element = record.json()["credential"]["credentialSubject"]["achievement"]["qualityAssurance"]
    assert (element["agencyName"], element["decision"]) == ("Direct Agency", "positive_with_conditions")

    await asyncio.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds()) + 0.5)
    late = await earn(producer, scenario, "learner-too-late")
    parked = await request_state(stack, scenario, late, "parked")
    assert parked["reason"].startswith(f"qa_expired: the QA attestation {attestation_id}")
    assert await count_credentials(stack, scenario.achievement_id) == 1
    result = await verify(stack, record.json()["credential"])
    assert result["qualityAssurance"]["state"] == "expired"


async def test_allow_unassured_issues_marked_as_without_external_qa(
    stack: Stack, issuance: ServiceHost, producer: AIOKafkaProducer, watch: Any
) -> None:
    issued: TopicWatcher = await watch(CREDENTIALS_ISSUED.name)
    scenario = IssuerScenario(qa_policy="allow_unassured")
    await scenario.define(issuance_url(stack))
    await earn(producer, scenario, "learner-unassured")
    [record] = await issued.wait_for(issued_for(scenario.achievement_id), count=1, timeout=30)
    credential = record.json()["credential"]
    element = credential["credentialSubject"]["achievement"]["qualityAssurance"]
    assert element["qaType"] == "internal"
    assert element["qaDescription"].startswith("No external QA")
    assert "attestation" not in element
    assert (await verify(stack, credential))["qualityAssurance"] == {"state": "none"}
