"""Credential status entries (W3C Bitstring Status List) for issued credentials.

Issuance never reads the revocation service's tables and never waits for it while issuing: it
keeps a pool of status list indexes that the revocation service reserved for each issuer and
purpose (random, never reused positions; docs/revocation.md), takes one per purpose for each
credential, and asks for the next block (an event, through the outbox) when fewer than
`low_water` remain. Only an empty pool parks an award, with a visible reason, until a block
arrives.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from contracts.topics import STATUS_INDEX_REQUESTS
from contracts.v1.revocation import StatusIndexBlockRequested, StatusIndexBlockReserved
from services.runtime.outbox import EventOutbox
from vc.status import status_entry

Purpose = Literal["revocation", "suspension"]
PURPOSES: tuple[Purpose, ...] = ("revocation", "suspension")
WAITING_FOR_INDEXES = "waiting for status list indexes from the revocation service"


class FreeIndexGauge:
    """When the issuing path must count a pool's free indexes again.

    Counting is an index scan of up to a few thousand entries (~2.5 ms), too much for every
    batch. A count that finds `low_water + surplus` free indexes lets this process take `surplus`
    more before counting again, or go on for `recheck_s`, whichever comes first: other instances
    take from the same pool unseen, the time bound keeps that error small (a pool that runs dry
    anyway only parks awards until the next block; see the module's docstring).
    """

    def __init__(self, recheck_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._recheck_s = recheck_s
        self._clock = clock
        self._spare: dict[tuple[str, str], tuple[int, float]] = {}

    def due(self, issuer_id: str, purpose: str) -> bool:
        spare, at = self._spare.get((issuer_id, purpose), (0, 0.0))
        return spare <= 0 or self._clock() - at > self._recheck_s

    def counted(self, issuer_id: str, purpose: str, *, free: int, low_water: int) -> None:
        self._spare[(issuer_id, purpose)] = (free - low_water, self._clock())

    def took(self, issuer_id: str, purpose: str, count: int) -> None:
        if (issuer_id, purpose) in self._spare:
            spare, at = self._spare[(issuer_id, purpose)]
            self._spare[(issuer_id, purpose)] = (spare - count, at)


class StatusPool(Protocol):
    """The pool of status list indexes reserved for each issuer and purpose
    (services/issuance/status_repository.py; the unit tests' in-memory fake)."""

    async def assigned_many(self, credential_ids: Sequence[str]) -> dict[str, dict[str, tuple[str, int]]]: ...
    async def take_many(
        self, *, issuer_id: str, purpose: str, credential_ids: Sequence[str]
    ) -> dict[str, tuple[str, int]]: ...
    async def free_count(self, *, issuer_id: str, purpose: str, at_most: int | None = None) -> int: ...
    async def open_request(self, *, request_id: str, issuer_id: str, purpose: str, size: int) -> bool: ...
    async def add_block(
        self,
        *,
        block_id: str,
        request_id: str,
        issuer_id: str,
        purpose: str,
        list_url: str,
        indexes: Sequence[int],
    ) -> int: ...


@dataclass(frozen=True)
class StatusPolicy:
    enabled: bool
    block_size: int
    low_water: int
    gauge: FreeIndexGauge


async def request_block_if_low(
    *,
    issuer_id: str,
    issuer_did: str,
    purpose: Purpose,
    pool: StatusPool,
    policy: StatusPolicy,
    outbox: EventOutbox,
) -> bool:
    """Ask for another block when the free indexes fall below the low-water mark (one open
    request per issuer and purpose). True when a request was sent."""
    if not policy.gauge.due(issuer_id, purpose):
        return False
    # Counting past the mark (by half a block) buys the gauge that many takes without a count.
    counted = await pool.free_count(
        issuer_id=issuer_id, purpose=purpose, at_most=policy.low_water + max(policy.block_size // 2, 1)
    )
    if counted >= policy.low_water:
        policy.gauge.counted(issuer_id, purpose, free=counted, low_water=policy.low_water)
        return False
    request_id = str(uuid.uuid4())
    if not await pool.open_request(
        request_id=request_id, issuer_id=issuer_id, purpose=purpose, size=policy.block_size
    ):
        return False
    await outbox.enqueue(
        STATUS_INDEX_REQUESTS,
        StatusIndexBlockRequested(
            request_id=request_id,
            issuer_id=issuer_id,
            issuer_did=issuer_did,
            purpose=purpose,
            size=policy.block_size,
        ),
    )
    return True


async def entries_for(
    credential_ids: Sequence[str],
    *,
    issuer_id: str,
    issuer_did: str,
    pool: StatusPool,
    policy: StatusPolicy,
    outbox: EventOutbox,
) -> dict[str, list[dict[str, Any]] | None]:
    """One entry per purpose for each credential (the same ones again for a credential that
    already has them), or None for a credential when a pool ran empty (the caller parks that
    award; an index it did get stays assigned to it for its next attempt). Set by set: a few
    statements whatever the number of credentials."""
    if not policy.enabled:
        return {c: [] for c in credential_ids}
    held = await pool.assigned_many(credential_ids)
    for purpose in PURPOSES:
        missing = [c for c in credential_ids if purpose not in held.get(c, {})]
        if missing:
            taken = await pool.take_many(issuer_id=issuer_id, purpose=purpose, credential_ids=missing)
            policy.gauge.took(issuer_id, purpose, len(taken))
            for credential_id, position in taken.items():
                held.setdefault(credential_id, {})[purpose] = position
        await request_block_if_low(
            issuer_id=issuer_id, issuer_did=issuer_did, purpose=purpose, pool=pool, policy=policy,
            outbox=outbox,
        )  # fmt: skip
    return {
        c: [status_entry(held[c][p][0], held[c][p][1], p) for p in PURPOSES]
        if all(p in held.get(c, {}) for p in PURPOSES)
        else None
        for c in credential_ids
    }


async def receive_block(block: StatusIndexBlockReserved, *, pool: StatusPool) -> int:
    return await pool.add_block(
        block_id=block.block_id,
        request_id=block.request_id,
        issuer_id=block.issuer_id,
        purpose=block.purpose,
        list_url=block.status_list_credential,
        indexes=block.indexes,
    )
