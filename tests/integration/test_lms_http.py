"""HTTP ingest of xAPI, Caliper and LTI AGS payloads on the real database and broker: accepted
results earn once (whether re-posted or also sent over Kafka), invalid ones are refused with a
problem+json reason, and a missing or foreign token or a wrong content type is refused."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts.envelope import CloudEventAttributes
from contracts.topics import ACHIEVEMENT_DEFINITIONS, ACHIEVEMENTS_EARNED, LMS_XAPI
from deploy.local.runner import Stack
from deploy.tools.publish import publish_event
from services.assessment.app import create_app
from services.runtime.process import ServiceHost
from tests.fixtures.assessment import Scenario, assessment_settings
from tests.fixtures.kafka import Seen
from tests.fixtures.lms import LmsScenario, LmsWorld
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration

WORLD = LmsWorld()
XAPI_HEADERS = {"X-Experience-API-Version": "1.0.3"}
LTI_SCORE = "application/vnd.ims.lis.v1.score+json"


@pytest.fixture(scope="module")
async def lms_assessment(stack: Stack) -> AsyncIterator[ServiceHost]:
    host = await create_app(assessment_settings(stack, lms_config=WORLD.config_json()))
    await host.start()
    yield host
    await host.stop()


@pytest.fixture
async def client(stack: Stack, lms_assessment: ServiceHost) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.ports['assessment']}", timeout=10) as c:
        yield c


def auth(lms: LmsScenario) -> dict[str, str]:
    return {"Authorization": f"Bearer {lms.token}"}


async def define(producer: AIOKafkaProducer, scenario: Scenario) -> None:
    d = scenario.definition()
    await publish_event(
        producer, ACHIEVEMENT_DEFINITIONS, d, key=d.achievement_id, source="urn:credstream:test:operator"
    )


async def defined(db: asyncpg.Connection, scenario: Scenario) -> None:
    async def stored() -> bool:
        return bool(
            await db.fetchval(
                "SELECT true FROM achievements WHERE achievement_id = $1", scenario.achievement_id
            )
        )

    await eventually(stored, what="achievement definition stored")


def earned_for(learner_id: str) -> Any:
    def match(s: Seen) -> bool:
        return s.value is not None and json.loads(s.value)["learner"]["id"] == learner_id

    return match


def assert_problem(response: httpx.Response, status: int, reason: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    if reason is not None:
        assert body["reason"] == reason, body
    return body


async def test_xapi_statements_posted_earn_once_and_reposts_or_kafka_copies_change_nothing(
    client: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    watch: Any,
    db: asyncpg.Connection,
) -> None:
    earned = await watch(ACHIEVEMENTS_EARNED.name)
    scenario, lms = WORLD.scenario()
    await define(producer, scenario)
    await defined(db, scenario)
    passer, failer = Scenario.learner(), Scenario.learner()
    batch = [lms.statement(passer, 0, scaled=0.8), lms.statement(passer, 1, scaled=0.7)]
    response = await client.post("/xapi/statements", json=batch, headers={**auth(lms), **XAPI_HEADERS})
    assert response.status_code == 200, response.text
    assert response.json() == [s["id"] for s in batch]
    assert response.headers["X-Experience-API-Version"] == "1.0.3"
    # The same statements again over HTTP, and one of them over Kafka: still two results.
    again = await client.post("/xapi/statements", json=batch[1], headers={**auth(lms), **XAPI_HEADERS})
    assert again.status_code == 200 and again.json() == [batch[1]["id"]]
    ce_id = str(uuid.uuid4())
    await producer.send_and_wait(
        LMS_XAPI.name,
        value=json.dumps(batch[0]).encode(),
        key=passer.encode(),
        headers=CloudEventAttributes(
            id=ce_id, source=lms.source, type=LMS_XAPI.events[0].event_type
        ).to_headers(),
    )

    async def consumed() -> bool:
        return bool(await db.fetchval("SELECT true FROM inbox WHERE event_id = $1", ce_id))

    await eventually(consumed, what="Kafka copy consumed")
    failed = lms.statement(failer, 0, verb="failed", scaled=0.2)
    response = await client.post("/xapi/statements", json=failed, headers={**auth(lms), **XAPI_HEADERS})
    assert response.status_code == 200

    passer_ref = lms.xapi_learner(passer)
    assert len(await earned.wait_for(earned_for(passer_ref), timeout=30, settle=2.0)) == 1
    assert await db.fetchval("SELECT count(*) FROM results WHERE learner_id = $1", passer_ref) == 2
    assert (
        await db.fetchval("SELECT count(*) FROM results WHERE learner_id = $1", lms.xapi_learner(failer)) == 1
    )
    assert await earned.wait_for(earned_for(lms.xapi_learner(failer)), timeout=1) == []


async def test_caliper_and_lti_posts_are_recorded_and_earn_once(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, watch: Any, db: asyncpg.Connection
) -> None:
    earned = await watch(ACHIEVEMENTS_EARNED.name)
    scenario, lms = WORLD.scenario()
    await define(producer, scenario)
    await defined(db, scenario)
    learner = Scenario.learner()
    envelope = lms.caliper_envelope([lms.grade_event(learner, 0, given=75)])
    response = await client.post("/caliper", json=envelope, headers=auth(lms))
    assert response.status_code == 200, response.text
    assert response.json() == {"grade_events": 1, "earned": 0}

    user = str(uuid.uuid4())
    exam = scenario.activities[1]
    pending = lms.lti_score(user, given=90, grading="Pending")
    headers = {**auth(lms), "Content-Type": LTI_SCORE}
    response = await client.post(
        "/lti/scores", params={"lineitem": exam}, content=json.dumps(pending), headers=headers
    )
    assert response.status_code == 202 and response.json()["status"] == "not_final"

    final = lms.lti_score(user, given=90)
    for _ in range(2):  # a re-sent score is the same result
        response = await client.post(
            "/lti/scores", params={"lineitem": exam}, content=json.dumps(final), headers=headers
        )
        assert response.status_code == 200, response.text
    quiz_score = lms.lti_score(user, given=60)
    response = await client.post(
        "/lti/scores",
        params={"lineitem": scenario.activities[0]},
        content=json.dumps(quiz_score),
        headers=headers,
    )
    assert response.status_code == 200 and response.json()["earned"] == 1
    assert len(await earned.wait_for(earned_for(f"lti:{user}"), timeout=30, settle=2.0)) == 1
    assert await db.fetchval("SELECT count(*) FROM results WHERE learner_id = $1", f"lti:{user}") == 2

    exam_event = lms.caliper_envelope([lms.grade_event(learner, 1, given=65)])
    response = await client.post("/caliper", json=exam_event, headers=auth(lms))
    assert response.json() == {"grade_events": 1, "earned": 1}
    assert len(await earned.wait_for(earned_for(lms.caliper_learner(learner)), timeout=30, settle=1.0)) == 1


async def test_invalid_payloads_get_400_with_the_reason_and_nothing_is_stored(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    lms = WORLD.lms
    learner = Scenario.learner()
    good, no_verb = lms.statement(learner, 0), lms.statement(learner, 1)
    del no_verb["verb"]
    body = assert_problem(
        await client.post("/xapi/statements", json=[good, no_verb], headers={**auth(lms), **XAPI_HEADERS}),
        400,
        "missing_field",
    )
    assert "statement[1]" in body["detail"] and "verb" in body["detail"]
    wrong = lms.statement(learner, 0)
    wrong["result"]["success"] = "true"
    assert_problem(
        await client.post("/xapi/statements", json=wrong, headers={**auth(lms), **XAPI_HEADERS}),
        400,
        "wrong_type",
    )
    malformed = await client.post(
        "/xapi/statements",
        content=b'{"actor": ',
        headers={**auth(lms), **XAPI_HEADERS, "Content-Type": "application/json"},
    )
    assert_problem(malformed, 400, "malformed_json")
    no_version = await client.post("/xapi/statements", json=good, headers=auth(lms))
    assert_problem(no_version, 400, "version_missing")
    assert no_version.headers["X-Experience-API-Version"] == "1.0.3"
    old = await client.post(
        "/xapi/statements", json=good, headers={**auth(lms), "X-Experience-API-Version": "0.95"}
    )
    assert_problem(old, 400, "version_unsupported")

    envelope = lms.caliper_envelope([lms.grade_event(learner, 0, given=75)])
    del envelope["data"][0]["object"]["assignee"]
    body = assert_problem(
        await client.post("/caliper", json=envelope, headers=auth(lms)), 400, "missing_field"
    )
    assert "assignee" in body["detail"]
    score = lms.lti_score(learner, given=50)
    score["scoreMaximum"] = "100"
    response = await client.post(
        "/lti/scores",
        params={"lineitem": lms.activities[0]},
        content=json.dumps(score),
        headers={**auth(lms), "Content-Type": LTI_SCORE},
    )
    assert_problem(response, 400, "wrong_type")
    assert await db.fetchval("SELECT count(*) FROM results WHERE result_id = $1", f"xapi:{good['id']}") == 0


@pytest.mark.parametrize(
    ("path", "params", "headers", "content_type"),
    [
        ("/xapi/statements", {}, XAPI_HEADERS, "application/json"),
        ("/caliper", {}, {}, "application/json"),
        ("/lti/scores", {"lineitem": "https://lms.test/lineitems/1"}, {}, LTI_SCORE),
    ],
    ids=["xapi", "caliper", "lti"],
)
async def test_deeply_nested_json_is_a_400_not_a_500(
    client: httpx.AsyncClient, path: str, params: dict[str, str], headers: dict[str, str], content_type: str
) -> None:
    """A 100,000-deep array and a 5,000-deep object (under the 1 MiB bound) once raised
    RecursionError in the body's JSON decoding: 500 text/plain."""
    deep_array = b"[" * 100_000 + b"]" * 100_000
    deep_object = b'{"a":' * 5_000 + b"1" + b"}" * 5_000
    for body in (deep_array, deep_object):
        response = await client.post(
            path, params=params, content=body,
            headers={**auth(WORLD.lms), **headers, "Content-Type": content_type},
        )  # fmt: skip
        problem = assert_problem(response, 400, "malformed_json")
        assert "nested too deeply" in problem["detail"]
    assert (await client.get("/health/ready")).status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "headers"),
    [
        ("/xapi/statements", {}, XAPI_HEADERS),
        ("/caliper", {}, {}),
        ("/lti/scores", {"lineitem": "https://lms.test/lineitems/1"}, {}),
    ],
    ids=["xapi", "caliper", "lti"],
)
async def test_missing_or_foreign_tokens_and_wrong_content_types_are_refused(
    client: httpx.AsyncClient, path: str, params: dict[str, str], headers: dict[str, str]
) -> None:
    payload = json.dumps({"anything": True})
    json_type = {"Content-Type": "application/json"}
    missing = await client.post(path, params=params, content=payload, headers={**headers, **json_type})
    assert_problem(missing, 401)
    foreign = await client.post(
        path,
        params=params,
        content=payload,
        headers={**headers, **json_type, "Authorization": "Bearer not-an-lms"},
    )
    assert_problem(foreign, 401)
    basic = await client.post(
        path,
        params=params,
        content=payload,
        headers={**headers, **json_type, "Authorization": f"Basic {WORLD.lms.token}"},
    )
    assert_problem(basic, 401)
    wrong_type = await client.post(
        path,
        params=params,
        content=payload,
        headers={**headers, **auth(WORLD.lms), "Content-Type": "text/plain"},
    )
    assert_problem(wrong_type, 415, "content_type_unsupported")


async def test_each_lms_token_records_for_its_own_issuer(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The second LMS's token is valid, and its results go to the issuer it is configured for."""
    learner = Scenario.learner()
    statement = WORLD.other.statement(learner, 0)
    response = await client.post(
        "/xapi/statements", json=statement, headers={**auth(WORLD.other), **XAPI_HEADERS}
    )
    assert response.status_code == 200, response.text
    row = await db.fetchrow(
        "SELECT issuer_id, lms_id FROM results WHERE result_id = $1", f"xapi:{statement['id']}"
    )
    assert row is not None
    assert (row["issuer_id"], row["lms_id"]) == (WORLD.other.issuer_id, WORLD.other.lms_id)


async def test_concurrent_results_of_one_learner_are_never_both_blind_to_each_other(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, watch: Any, db: asyncpg.Connection
) -> None:
    """The quiz and the exam of one learner committed at the same moment (two requests, or HTTP
    beside Kafka): each transaction must see the other's result, or the award is lost. The upsert
    of the learner row serialises them (the second waits for the first to commit, then, under READ
    COMMITTED, sees its result)."""
    earned = await watch(ACHIEVEMENTS_EARNED.name)
    scenario, lms = WORLD.scenario()
    await define(producer, scenario)
    await defined(db, scenario)
    learners = [Scenario.learner() for _ in range(30)]
    headers = {**auth(lms), **XAPI_HEADERS}

    async def both(learner: str) -> None:
        responses = await asyncio.gather(
            client.post("/xapi/statements", json=lms.statement(learner, 0), headers=headers),
            client.post("/xapi/statements", json=lms.statement(learner, 1), headers=headers),
        )
        assert [r.status_code for r in responses] == [200, 200]

    await asyncio.gather(*(both(learner) for learner in learners))
    refs = {lms.xapi_learner(learner) for learner in learners}
    records = await earned.wait_for(
        lambda s: s.value is not None and json.loads(s.value)["learner"]["id"] in refs,
        count=len(refs),
        timeout=30,
        settle=1.0,
    )
    assert sorted(r.json()["learner"]["id"] for r in records) == sorted(refs)
