"""Every SQL statement of the revocation service. Built on a connection; the caller owns the
transaction (a change, its audit row and its outbox event commit together)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.revocation.domain import AUDIT_COLUMNS, AuditRow, ChangeRequest

DIRTY_CHANNEL = "credstream_status_dirty"
"""Notified when a transaction changed a list's bits; the list publisher listens."""


@dataclass(slots=True)
class StatusList:
    list_id: str
    issuer_id: str
    issuer_did: str
    purpose: str
    seq: int
    length: int
    url: str
    bits: bytes
    reserved: bytes
    reserved_count: int
    version: int
    published_version: int


@dataclass(frozen=True, slots=True)
class Entry:
    credential_id: str
    purpose: str
    issuer_id: str
    list_id: str
    idx: int


@dataclass(frozen=True, slots=True)
class EntryTarget:
    list_id: str
    issuer_id: str
    purpose: str
    reserved: bool


@dataclass(frozen=True, slots=True)
class Published:
    body: bytes
    etag: str
    published_at: datetime
    version: int


_LIST_COLUMNS = (
    "list_id, issuer_id, issuer_did, purpose, seq, length, url, bits, reserved, reserved_count, version, "
    "published_version"
)


def _list(row: asyncpg.Record) -> StatusList:
    return StatusList(**dict(row))


class RevocationRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def notify_lists_dirty(self) -> None:
        """Wake the list publisher (services/revocation/publisher.py) at commit: NOTIFY is
        delivered when the transaction commits, never for one that rolls back."""
        await self.conn.execute(f"NOTIFY {DIRTY_CHANNEL}")

    # lists and reservations

    async def newest_list_for_update(self, issuer_id: str, purpose: str) -> StatusList | None:
        row = await self.conn.fetchrow(
            f"SELECT {_LIST_COLUMNS} FROM status_lists WHERE issuer_id = $1 AND purpose = $2 "
            "ORDER BY seq DESC LIMIT 1 FOR UPDATE",
            issuer_id,
            purpose,
        )
        return _list(row) if row else None

    async def open_list(
        self, *, list_id: str, issuer_id: str, issuer_did: str, purpose: str, seq: int, length: int, url: str
    ) -> None:
        empty = bytes(length // 8)
        await self.conn.execute(
            "INSERT INTO status_lists "
            "(list_id, issuer_id, issuer_did, purpose, seq, length, url, bits, reserved) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT DO NOTHING",
            list_id,
            issuer_id,
            issuer_did,
            purpose,
            seq,
            length,
            url,
            empty,
        )

    async def block_for_request(self, request_id: str) -> tuple[str, str] | None:
        row = await self.conn.fetchrow(
            "SELECT block_id, list_id FROM index_blocks WHERE request_id = $1", request_id
        )
        return (row["block_id"], row["list_id"]) if row else None

    async def indexes_of_block(self, block_id: str) -> list[int]:
        rows = await self.conn.fetch(
            "SELECT idx FROM reservations WHERE block_id = $1 ORDER BY idx", block_id
        )
        return [r["idx"] for r in rows]

    async def record_reservation(
        self, *, block_id: str, request_id: str, list_id: str, indexes: Sequence[int], reserved: bytes
    ) -> None:
        await self.conn.execute(
            "UPDATE status_lists SET reserved = $2, reserved_count = reserved_count + $3 WHERE list_id = $1",
            list_id,
            reserved,
            len(indexes),
        )
        await self.conn.execute(
            "INSERT INTO index_blocks (block_id, request_id, list_id, size) VALUES ($1, $2, $3, $4)",
            block_id,
            request_id,
            list_id,
            len(indexes),
        )
        # The primary key (list_id, idx) refuses an index reserved before, whoever reserved it.
        await self.conn.copy_records_to_table(
            "reservations",
            records=[(list_id, i, block_id) for i in indexes],
            columns=["list_id", "idx", "block_id"],
        )

    async def entry_targets(self, named: Sequence[tuple[str, int]]) -> dict[tuple[str, int], EntryTarget]:
        """The lists (url, index) pairs name (without their bitmaps) and whether each index was
        reserved; pairs naming no list are absent."""
        rows = await self.conn.fetch(
            """
            SELECT n.url, n.idx, l.list_id, l.issuer_id, l.purpose, r.idx IS NOT NULL AS reserved
            FROM unnest($1::text[], $2::int[]) AS n(url, idx)
            JOIN status_lists l ON l.url = n.url
            LEFT JOIN reservations r ON r.list_id = l.list_id AND r.idx = n.idx
            """,
            [n[0] for n in named],
            [n[1] for n in named],
        )
        return {
            (r["url"], r["idx"]): EntryTarget(r["list_id"], r["issuer_id"], r["purpose"], r["reserved"])
            for r in rows
        }

    async def lists_for_update(self, list_ids: Iterable[str]) -> dict[str, StatusList]:
        # A fixed lock order (by id) keeps two concurrent batches from deadlocking.
        rows = await self.conn.fetch(
            f"SELECT {_LIST_COLUMNS} FROM status_lists WHERE list_id = ANY($1::text[]) "
            "ORDER BY list_id FOR UPDATE",
            sorted(set(list_ids)),
        )
        return {r["list_id"]: _list(r) for r in rows}

    async def lists_by_id(self, list_ids: Iterable[str]) -> dict[str, StatusList]:
        rows = await self.conn.fetch(
            f"SELECT {_LIST_COLUMNS} FROM status_lists WHERE list_id = ANY($1::text[])", sorted(set(list_ids))
        )
        return {r["list_id"]: _list(r) for r in rows}

    async def store_bits(self, lists: Iterable[StatusList]) -> None:
        await self.conn.executemany(
            "UPDATE status_lists SET bits = $2, version = version + 1 WHERE list_id = $1",
            [(sl.list_id, sl.bits) for sl in lists],
        )

    async def lists_of_issuer(self, issuer_id: str) -> list[asyncpg.Record]:
        return list(
            await self.conn.fetch(
                "SELECT list_id, purpose, seq, length, url, reserved_count, version, published_version, "
                "published_at "
                "FROM status_lists WHERE issuer_id = $1 ORDER BY purpose, seq",
                issuer_id,
            )
        )

    # entries

    async def insert_entries(self, entries: Sequence[Entry]) -> None:
        """Record entries; one a credential already has (a redelivered credential.issued) stays."""
        await self.conn.execute(
            "INSERT INTO entries (credential_id, purpose, issuer_id, list_id, idx) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[]) "
            "ON CONFLICT (credential_id, purpose) DO NOTHING",
            [e.credential_id for e in entries],
            [e.purpose for e in entries],
            [e.issuer_id for e in entries],
            [e.list_id for e in entries],
            [e.idx for e in entries],
        )

    async def entries_of(self, credential_ids: Iterable[str]) -> dict[tuple[str, str], Entry]:
        rows = await self.conn.fetch(
            "SELECT credential_id, purpose, issuer_id, list_id, idx FROM entries "
            "WHERE credential_id = ANY($1::text[])",
            list(set(credential_ids)),
        )
        return {(r[0], r[1]): Entry(r[0], r[1], r[2], r[3], r[4]) for r in rows}

    async def issuers_of(self, credential_ids: Iterable[str]) -> dict[str, str]:
        """The issuer of each credential whose entries are known (the HTTP tenancy check)."""
        rows = await self.conn.fetch(
            "SELECT DISTINCT credential_id, issuer_id FROM entries WHERE credential_id = ANY($1::text[])",
            list(set(credential_ids)),
        )
        return {r[0]: r[1] for r in rows}

    # requests, audit

    async def audited(self, request_ids: Iterable[str]) -> dict[str, asyncpg.Record]:
        rows = await self.conn.fetch(
            "SELECT request_id, credential_id, purpose, set_bit, outcome, refusal, list_id, idx "
            "FROM status_audit WHERE request_id = ANY($1::text[])",
            list(set(request_ids)),
        )
        return {r["request_id"]: r for r in rows}

    async def append_audit(self, rows: Sequence[AuditRow]) -> None:
        await self.conn.copy_records_to_table(
            "status_audit",
            records=[tuple(getattr(row, column) for column in AUDIT_COLUMNS) for row in rows],
            columns=list(AUDIT_COLUMNS),
        )

    async def park(self, request: ChangeRequest, payload: dict[str, Any]) -> None:
        await self.conn.execute(
            "INSERT INTO pending_changes (request_id, credential_id, request) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING",
            request.request_id,
            request.credential_id,
            payload,
        )

    async def take_pending(self, credential_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Remove and return the changes parked for these credentials, oldest first."""
        rows = await self.conn.fetch(
            "DELETE FROM pending_changes WHERE credential_id = ANY($1::text[]) "
            "RETURNING request, received_at",
            list(credential_ids),
        )
        return [r["request"] for r in sorted(rows, key=lambda r: r["received_at"])]

    async def audit_of(self, credential_id: str) -> list[dict[str, Any]]:
        rows = await self.conn.fetch(
            "SELECT seq, request_id, purpose, set_bit, outcome, refusal, reason_code, reason, actor, "
            "channel, recorded_at FROM status_audit WHERE credential_id = $1 ORDER BY seq",
            credential_id,
        )
        return [dict(r) for r in rows]

    # publication

    async def dirty_lists(self, *, exclude: Sequence[str] = (), limit: int = 100) -> list[StatusList]:
        rows = await self.conn.fetch(
            f"SELECT {_LIST_COLUMNS} FROM status_lists WHERE version > published_version "
            "AND NOT (list_id = ANY($2::text[])) ORDER BY list_id LIMIT $1",
            limit,
            list(exclude),
        )
        return [_list(r) for r in rows]

    async def mark_published(self, list_id: str, *, version: int, body: bytes, etag: str) -> bool:
        status = await self.conn.execute(
            "UPDATE status_lists SET published = $2, etag = $3, published_version = $4, published_at = now() "
            "WHERE list_id = $1 AND published_version < $4",
            list_id,
            body,
            etag,
            version,
        )
        return bool(status.endswith(" 1"))

    async def published(self, issuer_id: str, purpose: str, seq: int) -> Published | None:
        row = await self.conn.fetchrow(
            "SELECT published, etag, published_at, published_version FROM status_lists "
            "WHERE issuer_id = $1 AND purpose = $2 AND seq = $3 AND published IS NOT NULL",
            issuer_id,
            purpose,
            seq,
        )
        if row is None:
            return None
        return Published(row["published"], row["etag"], row["published_at"], row["published_version"])
