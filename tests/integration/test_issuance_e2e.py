"""End to end on the real broker and database: LMS results in, one signed micro-credential out,
verified by our verifier and by Digital Bazaar's (an independent implementation)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts.topics import ACHIEVEMENTS_EARNED, ASSESSMENT_RESULTS, CREDENTIALS_ISSUED
from deploy.local.runner import Stack
from deploy.tools.publish import publish_event
from services.issuance.profile import validate_profile
from services.runtime.process import ServiceHost
from tests.fixtures.assessment import LMS_SOURCE
from tests.fixtures.interop import verify_with_digitalbazaar
from tests.fixtures.issuance import ADMIN, IssuerScenario, indexes_ready
from tests.fixtures.kafka import Seen
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration


def issued_for(achievement_id: str) -> Any:
    def match(record: Seen) -> bool:
        return bool(record.json()["achievement_id"] == achievement_id)

    return match


@pytest.fixture
def base_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.ports['issuance']}"


async def _definition_reached_assessment(stack: Stack, achievement_id: str) -> None:
    conn = await asyncpg.connect(stack.database_url("assessment"))
    try:

        async def present() -> bool:
            return bool(
                await conn.fetchval(
                    "SELECT count(*) FROM assessment.achievements WHERE achievement_id = $1", achievement_id
                )
            )

        await eventually(present, timeout=30, what="achievement.defined consumed by assessment")
    finally:
        await conn.close()


@pytest.mark.parametrize("cryptosuite", ["eddsa-rdfc-2022", "eddsa-jcs-2022"])
async def test_lms_results_become_one_signed_credential_that_independent_verifiers_accept(  # noqa: PLR0917
    cryptosuite: str,
    stack: Stack,
    assessment: ServiceHost,
    issuance: ServiceHost,
    producer: AIOKafkaProducer,
    watch: Any,
    base_url: str,
) -> None:
    issued = await watch(CREDENTIALS_ISSUED.name)
    earned = await watch(ACHIEVEMENTS_EARNED.name)
    scenario, learner = IssuerScenario(cryptosuite=cryptosuite), "learner-e2e"
    await scenario.define(base_url)
    await _definition_reached_assessment(stack, scenario.achievement_id)

    first = scenario.result(learner, 0, scaled=0.9)
    for result in (first, scenario.result(learner, 1, scaled=0.7), first):  # the first one twice
        await publish_event(producer, ASSESSMENT_RESULTS, result, key=learner, source=LMS_SOURCE)

    records = await issued.wait_for(issued_for(scenario.achievement_id), count=1, timeout=60, settle=3.0)
    assert len(records) == 1, "exactly one credential.issued"
    event = records[0].json()
    credential = event["credential"]
    assert records[0].key == event["credential_id"].encode()
    assert "learners.test" not in records[0].value.decode(), "no clear-text learner e-mail on the stream"
    assert len(await earned.wait_for(lambda r: r.json()["achievement_id"] == scenario.achievement_id)) == 1
    assert credential["proof"]["cryptosuite"] == cryptosuite
    assert validate_profile(credential) == []

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        verified = await client.post("/credentials/verify", json={"verifiableCredential": credential})
        assert verified.status_code == 200, verified.text
        assert verified.json()["verified"] is True
        uuid_part = credential["id"].removeprefix("urn:uuid:")
        stored = await client.get(f"/credentials/{uuid_part}", headers=ADMIN)
        assert stored.json() == credential
        assert (await client.get(f"/credentials/{uuid_part}")).status_code == 401

    [theirs] = await asyncio.to_thread(
        verify_with_digitalbazaar,
        [credential],
        did_web_http=[f"127.0.0.1:{stack.ports['issuance']}"],
        check_status=True,
    )
    assert theirs.verified, theirs.errors
    assert theirs.status == {"revocation": False, "suspension": False}


async def test_every_annex_i_element_is_present_and_non_empty(
    stack: Stack, issuance: ServiceHost, producer: AIOKafkaProducer, watch: Any, base_url: str
) -> None:
    issued = await watch(CREDENTIALS_ISSUED.name)
    scenario = IssuerScenario()
    await scenario.define(base_url)
    await publish_event(
        producer, ACHIEVEMENTS_EARNED, scenario.earned("learner-annex"), key="k", source="urn:test:assessment"
    )
    [record] = await issued.wait_for(issued_for(scenario.achievement_id), count=1, timeout=60)
    credential = record.json()["credential"]
    subject = credential["credentialSubject"]
    achievement = subject["achievement"]
    annex_i = {
        "learner identification": subject["identifier"][0]["identityHash"],
        "title": achievement["name"],
        "country/region of the issuer": credential["issuer"]["address"]["addressCountryCode"],
        "awarding body": credential["issuer"]["name"],
        "date of issue": credential["validFrom"],
        "learning outcomes": achievement["learningOutcome"],
        "notional workload": achievement["ectsCredits"],
        "level": achievement["eqfLevel"],
        "type of assessment": achievement["assessmentType"],
        "form of participation": achievement["participationForm"],
        "type of quality assurance": achievement["qualityAssurance"]["qaType"],
    }
    assert all(value not in (None, "", [], {}) for value in annex_i.values()), annex_i
    assert achievement["achievementType"] == "MicroCredential"
    assert subject["identifier"][0]["identityHash"].startswith("sha256$")
    assert validate_profile(credential) == []


async def test_redelivered_and_repeated_awards_issue_once_and_unknown_achievements_wait(
    stack: Stack, issuance: ServiceHost, producer: AIOKafkaProducer, watch: Any, base_url: str
) -> None:
    issued = await watch(CREDENTIALS_ISSUED.name)
    scenario = IssuerScenario()
    earned = scenario.earned("learner-parked")
    async with httpx.AsyncClient(base_url=base_url, headers=ADMIN, timeout=30) as client:
        # The issuer first: an award for an unknown issuer is parked with that reason instead.
        (await client.put(f"/admin/issuers/{scenario.issuer_id}", json=scenario.issuer())).raise_for_status()
        await indexes_ready(client, scenario.issuer_id)
        # The award arrives before its achievement is defined: it waits, parked with a reason.
        await publish_event(producer, ACHIEVEMENTS_EARNED, earned, key="k", source="urn:test:assessment")
        await publish_event(producer, ACHIEVEMENTS_EARNED, earned, key="k", source="urn:test:assessment")

        async def parked() -> bool:
            rows = (await client.get(f"/admin/issuers/{scenario.issuer_id}/requests")).json()
            return bool(rows) and rows[0]["state"] == "parked" and "not defined" in rows[0]["reason"]

        await eventually(parked, timeout=30, what="request parked with its reason")
        response = await client.put(
            f"/admin/achievements/{scenario.achievement_id}", json=scenario.achievement()
        )
        assert len(response.json()["released_credentials"]) == 1
    # The same award under another event id (e.g. re-derived upstream) is still one credential.
    again = scenario.earned("learner-parked", earned_id=earned.earned_id)
    await publish_event(producer, ACHIEVEMENTS_EARNED, again, key="k", source="urn:test:other-source")
    records = await issued.wait_for(issued_for(scenario.achievement_id), count=1, timeout=30, settle=3.0)
    assert len(records) == 1
    conn = await asyncpg.connect(stack.database_url("issuance"))
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM issuance.credentials WHERE achievement_id = $1", scenario.achievement_id
        )
    finally:
        await conn.close()
    assert count == 1
