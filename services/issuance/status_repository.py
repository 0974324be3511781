"""SQL of the status index pool (indexes reserved for us by the revocation service)."""

from __future__ import annotations

import random
from collections.abc import Sequence

import asyncpg

_rng = random.SystemRandom()


class StatusPoolRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def assigned_many(self, credential_ids: Sequence[str]) -> dict[str, dict[str, tuple[str, int]]]:
        """The indexes already assigned to these credentials, per credential and purpose."""
        rows = await self._conn.fetch(
            "SELECT credential_id, purpose, list_url, idx FROM status_index_pool "
            "WHERE credential_id = ANY($1::text[])",
            list(credential_ids),
        )
        held: dict[str, dict[str, tuple[str, int]]] = {}
        for r in rows:
            held.setdefault(r["credential_id"], {})[r["purpose"]] = (r["list_url"], r["idx"])
        return held

    async def take_many(
        self, *, issuer_id: str, purpose: str, credential_ids: Sequence[str]
    ) -> dict[str, tuple[str, int]]:
        """Assign a free index to each credential, in one statement: as many as there are
        credentials (fewer when the pool runs short; the rest get none), in storage order, which
        `add_block` made random (migration 0004: herd privacy, and an index scan of about N
        entries). SKIP LOCKED lets concurrent issuers (and instances) take different indexes
        without waiting on each other."""
        rows = await self._conn.fetch(
            """
            WITH free AS (
                SELECT list_url, idx FROM status_index_pool
                WHERE issuer_id = $1 AND purpose = $2 AND credential_id IS NULL
                ORDER BY seq
                LIMIT cardinality($3::text[]) FOR UPDATE SKIP LOCKED
            ), numbered AS (
                SELECT list_url, idx, row_number() OVER () AS n FROM free
            ), wanted AS (
                SELECT credential_id, n FROM unnest($3::text[]) WITH ORDINALITY AS w(credential_id, n)
            )
            UPDATE status_index_pool AS p SET credential_id = wanted.credential_id, assigned_at = now()
            FROM numbered JOIN wanted USING (n)
            WHERE p.list_url = numbered.list_url AND p.idx = numbered.idx
            RETURNING p.credential_id, p.list_url, p.idx
            """,
            issuer_id,
            purpose,
            list(credential_ids),
        )
        return {r["credential_id"]: (r["list_url"], r["idx"]) for r in rows}

    async def free_count(self, *, issuer_id: str, purpose: str, at_most: int | None = None) -> int:
        """Free indexes of an issuer and purpose; with `at_most`, counting stops there (the issuing
        path only asks whether the pool is below its low-water mark)."""
        count = await self._conn.fetchval(
            "SELECT count(*) FROM (SELECT 1 FROM status_index_pool "
            "WHERE issuer_id = $1 AND purpose = $2 AND credential_id IS NULL LIMIT $3) AS free",
            issuer_id,
            purpose,
            at_most,
        )
        return int(count)

    async def open_request(self, *, request_id: str, issuer_id: str, purpose: str, size: int) -> bool:
        """Record a block request unless one is already open for this issuer and purpose."""
        status = await self._conn.execute(
            "INSERT INTO status_index_requests (request_id, issuer_id, purpose, size) "
            "VALUES ($1, $2, $3, $4) "
            "ON CONFLICT DO NOTHING",
            request_id,
            issuer_id,
            purpose,
            size,
        )
        return bool(status.endswith(" 1"))

    async def add_block(
        self,
        *,
        block_id: str,
        request_id: str,
        issuer_id: str,
        purpose: str,
        list_url: str,
        indexes: Sequence[int],
    ) -> int:
        await self._conn.execute(
            "UPDATE status_index_requests SET fulfilled_at = now() "
            "WHERE request_id = $1 AND fulfilled_at IS NULL",
            request_id,
        )
        # Stored shuffled: indexes are taken in storage order, so a credential's index says
        # nothing about when it was issued (Bitstring Status List, herd privacy).
        shuffled = list(indexes)
        _rng.shuffle(shuffled)
        await self._conn.execute(
            "INSERT INTO status_index_pool (list_url, idx, issuer_id, purpose, block_id) "
            "SELECT $1, i, $3, $4, $5 FROM unnest($2::int[]) WITH ORDINALITY AS b(i, n) ORDER BY n "
            "ON CONFLICT DO NOTHING",
            list_url,
            shuffled,
            issuer_id,
            purpose,
            block_id,
        )
        return len(indexes)
