"""Issuance's pool of status list indexes on the real database: every index of a block goes to
one credential, in a random order (Bitstring Status List herd privacy), and the low-water count
sees the pool (services/issuance/status_repository.py, migration 0004)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from deploy.local.runner import Stack
from services.issuance.status_repository import StatusPoolRepository
from services.runtime.process import ServiceHost


@pytest.fixture
async def pool_conn(stack: Stack, issuance: ServiceHost) -> AsyncIterator[asyncpg.Connection]:
    """The issuance schema (migrated by the `issuance` fixture), in a transaction rolled back at
    the end, so the rows of a made-up issuer never reach the running service."""
    conn = await asyncpg.connect(stack.database_url("issuance"), server_settings={"search_path": "issuance"})
    tx = conn.transaction()
    await tx.start()
    try:
        yield conn
    finally:
        await tx.rollback()
        await conn.close()


async def test_a_block_is_assigned_once_each_in_random_order(pool_conn: asyncpg.Connection) -> None:
    repo = StatusPoolRepository(pool_conn)
    issuer = f"pool-test-{uuid.uuid4().hex[:8]}"
    indexes = list(range(1000, 1000 + 3 * 64, 3))  # arrives sorted, as the revocation service sends it
    added = await repo.add_block(
        block_id=f"{issuer}-b1",
        request_id=f"{issuer}-r1",
        issuer_id=issuer,
        purpose="revocation",
        list_url="https://status.example/lists/1",
        indexes=indexes,
    )
    assert added == 64
    assert await repo.free_count(issuer_id=issuer, purpose="revocation") == 64

    assigned: list[int] = []
    for n in range(16):  # takes of four, as consecutive batches would
        taken = await repo.take_many(
            issuer_id=issuer, purpose="revocation", credential_ids=[f"urn:c:{n}:{i}" for i in range(4)]
        )
        assert len(taken) == 4
        assigned.extend(idx for _, idx in taken.values())

    assert sorted(assigned) == indexes  # every index once
    # Issue order is not index order: a sorted assignment of 64 shuffled indexes has odds 1/64!.
    assert assigned != indexes
    assert await repo.free_count(issuer_id=issuer, purpose="revocation") == 0
    assert await repo.take_many(issuer_id=issuer, purpose="revocation", credential_ids=["urn:c:late"]) == {}
    held = await repo.assigned_many(["urn:c:0:0", "urn:c:15:3"])
    assert set(held) == {"urn:c:0:0", "urn:c:15:3"}
