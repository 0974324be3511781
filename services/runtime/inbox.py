"""The inbox: idempotent consumption by (consumer, CloudEvents source, id)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg


async def claim(
    conn: asyncpg.Connection, *, consumer: str, source: str, event_id: str, event_type: str
) -> bool:
    """Record that `consumer` processes this event, in the caller's transaction.

    Returns False when the row exists: the event was processed before and its effects are
    committed, so the caller returns without doing anything (a redelivery). Two concurrent
    deliveries of one event serialise on the primary key; the loser sees False after the winner
    commits, or retries if the winner rolls back.
    """
    inserted = await conn.fetchval(
        "INSERT INTO inbox (consumer, source, event_id, event_type) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT DO NOTHING RETURNING true",
        consumer,
        source,
        event_id,
        event_type,
    )
    return bool(inserted)


async def claim_many(
    conn: asyncpg.Connection, *, consumer: str, events: Sequence[tuple[str, str, str]]
) -> set[tuple[str, str]]:
    """`claim` for a batch of (source, id, type) in one statement; returns the (source, id) pairs
    claimed now. An event listed twice is claimed once (the second row conflicts with the first)."""
    rows = await conn.fetch(
        "INSERT INTO inbox (consumer, source, event_id, event_type) "
        "SELECT $1, e.source, e.event_id, e.event_type "
        "FROM unnest($2::text[], $3::text[], $4::text[]) AS e(source, event_id, event_type) "
        "ON CONFLICT DO NOTHING RETURNING source, event_id",
        consumer,
        [e[0] for e in events],
        [e[1] for e in events],
        [e[2] for e in events],
    )
    return {(r["source"], r["event_id"]) for r in rows}
