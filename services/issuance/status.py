"""Credential status entries (W3C Bitstring Status List) for issued credentials.

Issuance never reads the revocation service's tables and never waits for it while issuing: it
keeps a pool of status list indexes that the revocation service reserved for each issuer and
purpose (random, never reused positions; docs/revocation.md), takes one per purpose for each
credential, and asks for the next block (an event, through the outbox) when fewer than
`low_water` remain. Only an empty pool parks an award, with a visible reason, until a block
arrives.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from contracts.v1.revocation import StatusIndexBlockRequested, StatusIndexBlockReserved
from services.issuance.status_repository import StatusPoolRepository

Purpose = Literal["revocation", "suspension"]
PURPOSES: tuple[Purpose, ...] = ("revocation", "suspension")
WAITING_FOR_INDEXES = "waiting for status list indexes from the revocation service"


@dataclass(frozen=True)
class StatusPolicy:
    enabled: bool
    block_size: int
    low_water: int
    publish_request: Callable[[StatusIndexBlockRequested], Awaitable[None]]


def entry(list_url: str, index: int, purpose: str) -> dict[str, Any]:
    """One `BitstringStatusListEntry` (spec section 2.1); the index is a decimal string."""
    return {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


async def request_block_if_low(
    *, issuer_id: str, issuer_did: str, purpose: Purpose, pool: StatusPoolRepository, policy: StatusPolicy
) -> bool:
    """Ask for another block when the free indexes fall below the low-water mark (one open
    request per issuer and purpose). True when a request was sent."""
    free = await pool.free_count(issuer_id=issuer_id, purpose=purpose, at_most=policy.low_water)
    if free >= policy.low_water:
        return False
    request_id = str(uuid.uuid4())
    if not await pool.open_request(
        request_id=request_id, issuer_id=issuer_id, purpose=purpose, size=policy.block_size
    ):
        return False
    await policy.publish_request(
        StatusIndexBlockRequested(
            request_id=request_id,
            issuer_id=issuer_id,
            issuer_did=issuer_did,
            purpose=purpose,
            size=policy.block_size,
        )
    )
    return True


async def entries_for(
    credential_ids: Sequence[str],
    *,
    issuer_id: str,
    issuer_did: str,
    pool: StatusPoolRepository,
    policy: StatusPolicy,
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
            for credential_id, position in taken.items():
                held.setdefault(credential_id, {})[purpose] = position
        await request_block_if_low(
            issuer_id=issuer_id, issuer_did=issuer_did, purpose=purpose, pool=pool, policy=policy
        )
    return {
        c: [entry(held[c][p][0], held[c][p][1], p) for p in PURPOSES]
        if all(p in held.get(c, {}) for p in PURPOSES)
        else None
        for c in credential_ids
    }


async def receive_block(block: StatusIndexBlockReserved, *, pool: StatusPoolRepository) -> int:
    return await pool.add_block(
        block_id=block.block_id,
        request_id=block.request_id,
        issuer_id=block.issuer_id,
        purpose=block.purpose,
        list_url=block.status_list_credential,
        indexes=block.indexes,
    )
