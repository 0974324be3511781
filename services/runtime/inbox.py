"""The inbox: idempotent consumption by (consumer, CloudEvents source, id)."""

from __future__ import annotations

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
