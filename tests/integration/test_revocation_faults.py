"""The revocation service under faults and concurrency, on the real broker and database:

- SIGKILL in the middle of a stream of status changes: after a restart every requested change is
  applied exactly once, and the published lists agree with the audit;
- index allocation stays unique when two revocation instances reserve blocks at once and two
  issuance instances assign indexes at once.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts.topics import ACHIEVEMENTS_EARNED, CREDENTIALS_ISSUED, STATUS_REQUESTS
from contracts.v1.revocation import CredentialStatusChangeRequested
from deploy.local.runner import Stack
from deploy.tools.publish import publish_event
from services.issuance.app import create_app as create_issuance
from services.revocation import service as revocation_service
from services.revocation.repository import RevocationRepository
from services.revocation.service import RevocationContext
from services.runtime.process import ServiceHost
from tests.fixtures.fakes import RecordingOutbox
from tests.fixtures.issuance import IssuerScenario, issuance_settings
from tests.fixtures.process import ServiceProcess, free_port
from tests.fixtures.waiting import eventually
from vc.status import decode_list

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CREDENTIALS = 30
REVOCATION_ENV = {"REVOCATION_LIST_TTL_S": "1", "REVOCATION_PUBLISH_INTERVAL_S": "0.2"}


@pytest.fixture
def revocation_process(stack: Stack, tmp_path: Path) -> Iterator[ServiceProcess]:
    svc = ServiceProcess(stack, "revocation", tmp_path / "revocation.log")
    yield svc
    svc.stop()


@pytest.fixture
async def issuance_only(stack: Stack) -> AsyncIterator[ServiceHost]:
    """Issuance in this process, small index blocks (so many block requests happen), and no
    in-process revocation service: the tests run their own revocation processes."""
    host = await create_issuance(issuance_settings(stack, status_block_size=8, status_low_water=4))
    await host.start()
    yield host
    await host.stop()


@pytest.fixture
async def db(stack: Stack) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(stack.database_url())
    yield conn
    await conn.close()


async def _issue_many(
    scenario: IssuerScenario, producer: AIOKafkaProducer, watch: Any, count: int
) -> list[dict[str, Any]]:
    issued = await watch(CREDENTIALS_ISSUED.name)
    for n in range(count):
        earned = scenario.earned(f"learner-{n}")
        await publish_event(producer, ACHIEVEMENTS_EARNED, earned, key=earned.earned_id, source="urn:test:a")
    records = await issued.wait_for(
        lambda r: r.json()["achievement_id"] == scenario.achievement_id, count=count, timeout=120
    )
    by_id = {r.json()["credential_id"]: r.json()["credential"] for r in records}
    return list(by_id.values())


async def test_sigkill_during_a_stream_of_status_changes_applies_each_once_and_lists_match_the_audit(  # noqa: PLR0917
    stack: Stack,
    issuance_only: ServiceHost,
    revocation_process: ServiceProcess,
    producer: AIOKafkaProducer,
    watch: Any,
    db: asyncpg.Connection,
) -> None:
    issuance_url = f"http://127.0.0.1:{stack.ports['issuance']}"
    revocation_process.start(**REVOCATION_ENV)
    await revocation_process.ready()
    scenario = IssuerScenario()
    await scenario.define(issuance_url)
    credentials = await _issue_many(scenario, producer, watch, CREDENTIALS)
    ids = [c["id"] for c in credentials]

    async def registered() -> bool:
        count = await db.fetchval(
            "SELECT count(*) FROM revocation.entries WHERE credential_id = ANY($1)", ids
        )
        return int(count) == 2 * CREDENTIALS

    await eventually(registered, timeout=60, what="every credential's entries known to revocation")
    revocation_process.stop()

    # Suspend every credential and revoke every third, as events; the service dies mid-stream.
    revocation_process.start(REVOCATION_FAULT_INJECTION="revocation.before_commit@17", **REVOCATION_ENV)
    await revocation_process.ready()
    requests = []
    for n, credential_id in enumerate(ids):
        purposes = ["suspension", "revocation"] if n % 3 == 0 else ["suspension"]
        for purpose in purposes:
            requests.append(
                CredentialStatusChangeRequested(
                    request_id=str(uuid.uuid4()),
                    credential_id=credential_id,
                    issuer_id=scenario.issuer_id,
                    purpose=purpose,
                    set=True,
                    reason_code="bulk-test",
                    actor="operator",
                )
            )
    for request in requests:
        await publish_event(
            producer, STATUS_REQUESTS, request, key=request.credential_id, source="urn:test:op"
        )
    assert await revocation_process.exited(60) == -signal.SIGKILL
    revocation_process.start(**REVOCATION_ENV)
    await revocation_process.ready()

    request_ids = [r.request_id for r in requests]

    async def all_applied() -> bool:
        count = await db.fetchval(
            "SELECT count(*) FROM revocation.status_audit WHERE request_id = ANY($1)", request_ids
        )
        return int(count) == len(requests)

    await eventually(all_applied, timeout=90, what="every status change applied after the restart")
    rows = await db.fetch(
        "SELECT request_id, outcome, list_id, idx, purpose FROM revocation.status_audit "
        "WHERE request_id = ANY($1)",
        request_ids,
    )
    assert len({r["request_id"] for r in rows}) == len(requests), "one audit row per request"
    assert {r["outcome"] for r in rows} == {"applied"}

    # The published lists (over HTTP, re-signed after the changes) agree with the audit.
    expected: dict[str, set[int]] = {}
    for r in rows:
        expected.setdefault(r["list_id"], set()).add(r["idx"])
    url_rows = await db.fetch(
        "SELECT list_id, url FROM revocation.status_lists WHERE list_id = ANY($1)", list(expected)
    )
    urls: dict[str, str] = {r["list_id"]: r["url"] for r in url_rows}
    async with httpx.AsyncClient(timeout=30) as client:

        async def lists_published() -> bool:
            for list_id, indexes in expected.items():
                response = await client.get(urls[list_id])
                bits = decode_list(response.json()["credentialSubject"]["encodedList"])
                set_bits = {i for i in range(len(bits)) if bits.get(i)}
                if set_bits != indexes:
                    mismatch[list_id] = (sorted(set_bits - indexes), sorted(indexes - set_bits))
                    return False
            return True

        mismatch: dict[str, Any] = {}
        try:
            await eventually(lists_published, timeout=30, what="published lists equal to the audit")
        except AssertionError as error:
            raise AssertionError(f"{error}: (extra, missing) per list {mismatch}") from None
        verified = await client.post(
            f"{issuance_url}/credentials/verify", json={"verifiableCredential": credentials[0]}
        )
    body = verified.json()
    assert body["verified"] is False
    assert body["status"] == {"revocation": "revoked", "suspension": "suspended"}


async def test_two_revocation_instances_never_reserve_the_same_index(
    stack: Stack, db: asyncpg.Connection
) -> None:
    """Blocks reserved at once on separate connections (as two instances would) for one issuer
    and purpose: every index is handed out once, and a full list opens the next one."""
    pools = [
        await asyncpg.create_pool(
            stack.database_url("revocation"),
            min_size=1,
            max_size=4,
            server_settings={"search_path": "revocation"},
        )
        for _ in range(2)
    ]
    issuer_id = f"issuer-{uuid.uuid4().hex[:10]}"
    blocks: list[Any] = []

    async def noop(*_: Any) -> None:
        return None

    ctx = RevocationContext(
        public_base_url="http://127.0.0.1:1",
        list_length=131_072,
        list_ttl_s=1,
        event_source="urn:test",
        outbox=RecordingOutbox(),
        publish_list=noop,
    )

    async def reserve(pool: asyncpg.Pool, size: int) -> None:
        async with pool.acquire() as conn, conn.transaction():
            blocks.append(
                await revocation_service.reserve_block(
                    request_id=str(uuid.uuid4()),
                    issuer_id=issuer_id,
                    issuer_did=f"did:web:test:{issuer_id}",
                    purpose="revocation",
                    size=size,
                    repo=RevocationRepository(conn),  # type: ignore[arg-type]
                    ctx=ctx,
                )
            )

    try:
        # 16 blocks of 8,192 fill list 1 exactly; 4 more must come from list 2.
        await asyncio.gather(*(reserve(pools[n % 2], 8192) for n in range(20)))
    finally:
        for pool in pools:
            await pool.close()
    count = await db.fetchval(
        "SELECT count(*) FROM revocation.reservations r JOIN revocation.status_lists l USING (list_id) "
        "WHERE l.issuer_id = $1",
        issuer_id,
    )
    # These lists belong to no real issuer: remove them, or a running publisher would keep trying.
    async with db.transaction():
        lists = "SELECT list_id FROM revocation.status_lists WHERE issuer_id = $1"
        await db.execute(f"DELETE FROM revocation.reservations WHERE list_id IN ({lists})", issuer_id)
        await db.execute(f"DELETE FROM revocation.index_blocks WHERE list_id IN ({lists})", issuer_id)
        await db.execute("DELETE FROM revocation.status_lists WHERE issuer_id = $1", issuer_id)
    pairs = [(b.status_list_credential, i) for b in blocks for i in b.indexes]
    assert len(pairs) == 20 * 8192
    assert len(set(pairs)) == len(pairs), "no index reserved twice"
    by_list: dict[str, int] = {}
    for url, _ in pairs:
        by_list[url] = by_list.get(url, 0) + 1
    assert sorted(by_list.values()) == [4 * 8192, 131_072]
    assert count == len(pairs), "each reservation recorded once in the database"


async def test_two_issuance_instances_assign_distinct_indexes_under_concurrent_issuance(  # noqa: PLR0917
    stack: Stack,
    issuance_only: ServiceHost,
    revocation_process: ServiceProcess,
    producer: AIOKafkaProducer,
    watch: Any,
    db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    issuance_url = f"http://127.0.0.1:{stack.ports['issuance']}"
    revocation_process.start(**REVOCATION_ENV)
    await revocation_process.ready()
    second = ServiceProcess(stack, "issuance", tmp_path / "issuance-2.log")
    second_port = free_port()
    # Same consumer group, another instance: the partitions of achievement.earned are shared.
    second.start(
        ISSUANCE_HTTP_PORT=str(second_port),
        ISSUANCE_INSTANCE_ID="second",
        ISSUANCE_STATUS_BLOCK_SIZE="8",
        ISSUANCE_STATUS_LOW_WATER="4",
    )
    try:
        await second.ready(port=second_port)  # issuing is fast: it must not be over before it starts
        scenario = IssuerScenario()
        await scenario.define(issuance_url)
        credentials = await _issue_many(scenario, producer, watch, 60)
    finally:
        second.stop()
    assert len(credentials) == 60
    entries = [
        (e["statusListCredential"], e["statusListIndex"]) for c in credentials for e in c["credentialStatus"]
    ]
    assert len(entries) == 120 and len(set(entries)) == 120, "every (list, index) used once"
    log = (tmp_path / "issuance-2.log").read_text()
    assert "started" in log, log[-2000:]
