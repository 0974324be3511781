"""SIGKILL the QA service where a crash could lose or double an attestation: before the commit of
an accepted submission, and around the relay's publish. After a restart each attestation exists
once and its `granted` fact was published (copies share their ce_id, so consumers dedupe them)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from contracts.topics import QA_ATTESTATIONS
from deploy.local.runner import Stack
from tests.fixtures.process import ServiceProcess
from tests.fixtures.qa import AgencyScenario, define_subject, issuer_subject, qa_url
from tests.fixtures.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SUBMISSIONS = 3


@pytest.fixture
def service(stack: Stack, tmp_path: Path) -> Iterator[ServiceProcess]:
    svc = ServiceProcess(stack, "qa", tmp_path / "qa.log")
    yield svc
    svc.stop()


@pytest.mark.parametrize("crash_point", ["qa.before_commit", "relay.before_publish", "relay.after_publish"])
async def test_sigkill_anywhere_in_qa_yields_each_attestation_exactly_once(
    crash_point: str, stack: Stack, service: ServiceProcess, producer: AIOKafkaProducer, watch: Any
) -> None:
    facts = await watch(QA_ATTESTATIONS.name)
    agency = AgencyScenario()
    service.start()
    await service.ready()
    await agency.register(qa_url(stack))
    issuers = [f"uni-{n}-{agency.agency_id}" for n in range(SUBMISSIONS)]
    for issuer_id in issuers:
        await define_subject(producer, stack, issuer_id=issuer_id, achievement_id=f"mc-{issuer_id}")
    service.stop()

    service.start(QA_FAULT_INJECTION=crash_point)
    await service.ready()
    endorsements = [agency.endorse(issuer_subject(issuer_id)) for issuer_id in issuers]
    for signed in endorsements:
        await agency.submit(producer, signed)
    assert await service.exited(60) == -signal.SIGKILL, service.log.read_text()[-2000:]

    service.start()  # no fault this time
    await service.ready()
    db = await asyncpg.connect(stack.database_url("qa"))
    try:

        async def all_applied() -> bool:
            count = await db.fetchval(
                "SELECT count(*) FROM qa.attestations WHERE agency_id = $1", agency.agency_id
            )
            return int(count) == SUBMISSIONS

        await eventually(all_applied, timeout=60, what="every attestation applied after the restart")
        history = await db.fetchval(
            """
            SELECT count(*) FROM qa.attestation_history h JOIN qa.attestations a USING (attestation_id)
            WHERE a.agency_id = $1
            """,
            agency.agency_id,
        )
        assert history == SUBMISSIONS, "one history row per attestation"
    finally:
        await db.close()

    ids = {signed["id"] for signed in endorsements}
    records = await facts.wait_for(
        lambda r: r.json()["attestation_id"] in ids, count=SUBMISSIONS, timeout=60, settle=3.0
    )
    by_attestation: dict[str, set[bytes]] = {}
    for record in records:
        by_attestation.setdefault(record.json()["attestation_id"], set()).add(record.headers["ce_id"])
    assert set(by_attestation) == ids, "every attestation was announced"
    assert all(len(ce_ids) == 1 for ce_ids in by_attestation.values()), "copies share their ce_id"
    if crash_point != "relay.after_publish":
        assert len(records) == SUBMISSIONS, "no copies unless the crash fell between publish and mark"
