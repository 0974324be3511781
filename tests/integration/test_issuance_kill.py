"""SIGKILL the issuance service at each point where a crash could lose or double a credential;
after a restart every award has exactly one credential, stored once and published (copies of
an event share its ce_id, so consumers dedupe them)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts.topics import ACHIEVEMENTS_EARNED, CREDENTIALS_ISSUED
from deploy.local.runner import Stack
from deploy.tools.publish import publish_event
from tests.fixtures.issuance import IssuerScenario
from tests.fixtures.process import ServiceProcess
from tests.fixtures.waiting import eventually

# The revocation service (in this process) reserves the status list indexes credentials need.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.usefixtures("revocation")]

LEARNERS = 5


@pytest.fixture
def service(stack: Stack, tmp_path: Path) -> Iterator[ServiceProcess]:
    svc = ServiceProcess(stack, "issuance", tmp_path / "issuance.log")
    yield svc
    svc.stop()


@pytest.mark.parametrize(
    "crash_point", ["issuance.before_commit", "relay.before_publish", "relay.after_publish"]
)
async def test_sigkill_anywhere_in_issuance_yields_each_credential_exactly_once(
    crash_point: str, stack: Stack, service: ServiceProcess, producer: AIOKafkaProducer, watch: Any
) -> None:
    issued = await watch(CREDENTIALS_ISSUED.name)
    scenario = IssuerScenario()
    base_url = f"http://127.0.0.1:{stack.ports['issuance']}"
    service.start()
    await service.ready()
    await scenario.define(base_url)
    service.stop()

    service.start(ISSUANCE_FAULT_INJECTION=crash_point)
    await service.ready()
    for n in range(LEARNERS):
        learner = f"learner-{n}"
        await publish_event(
            producer, ACHIEVEMENTS_EARNED, scenario.earned(learner), key=learner, source="urn:test:assessment"
        )
    assert await service.exited(60) == -signal.SIGKILL, service.log.read_text()[-2000:]

    service.start()  # no fault this time
    await service.ready()
    db = await asyncpg.connect(stack.database_url("issuance"))
    try:

        async def all_issued() -> bool:
            count = await db.fetchval(
                "SELECT count(*) FROM issuance.credentials WHERE achievement_id = $1", scenario.achievement_id
            )
            return int(count) == LEARNERS

        await eventually(all_issued, timeout=60, what="every award issued after the restart")
        rows = await db.fetch(
            "SELECT learner_id, count(*) AS n FROM issuance.credentials WHERE achievement_id = $1 GROUP BY 1",
            scenario.achievement_id,
        )
        assert sorted(r["learner_id"] for r in rows) == [f"learner-{n}" for n in range(LEARNERS)]
        assert all(r["n"] == 1 for r in rows)
    finally:
        await db.close()

    records = await issued.wait_for(
        lambda r: r.json()["achievement_id"] == scenario.achievement_id,
        count=LEARNERS,
        timeout=60,
        settle=3.0,
    )
    by_credential: dict[str, set[str]] = {}
    for record in records:
        by_credential.setdefault(record.json()["credential_id"], set()).add(record.headers["ce_id"].decode())
    assert len(by_credential) == LEARNERS, "every credential was published"
    assert all(len(ids) == 1 for ids in by_credential.values()), "copies share their ce_id"
    if crash_point != "relay.after_publish":
        assert len(records) == LEARNERS, "no copies unless the crash fell between publish and mark"

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        for record in records[:2]:
            response = await client.post(
                "/credentials/verify", json={"verifiableCredential": record.json()["credential"]}
            )
            assert response.json()["verified"] is True, response.text
