"""Inbox retention on the real database: the relay's periodic cleanup deletes inbox rows past
`INBOX_RETENTION_S` and keeps younger ones (runtime migration 0003)."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from deploy.local.runner import Stack
from services.runtime.outbox import OutboxRelay
from services.runtime.process import ServiceHost
from tests.fixtures.assessment import assessment_settings

pytestmark = pytest.mark.integration


async def test_inbox_rows_past_their_retention_are_pruned_and_younger_ones_kept(
    stack: Stack, assessment: ServiceHost, db: asyncpg.Connection
) -> None:
    consumer = f"retention-{uuid.uuid4().hex[:8]}"
    await db.execute(
        """
        INSERT INTO inbox (consumer, source, event_id, event_type, processed_at) VALUES
            ($1, 'urn:test', 'old', 'test', now() - interval '31 days'),
            ($1, 'urn:test', 'recent', 'test', now() - interval '29 days'),
            ($1, 'urn:test', 'new', 'test', now())
        """,
        consumer,
    )
    settings = assessment_settings(stack)
    assert settings.inbox_retention_s == 30 * 24 * 3600
    relay = OutboxRelay(pool=assessment.pool, producer=None, settings=settings)
    await relay.prune(db)
    kept = await db.fetch("SELECT event_id FROM inbox WHERE consumer = $1 ORDER BY event_id", consumer)
    assert [r["event_id"] for r in kept] == ["new", "recent"]
    indexes = await db.fetch("SELECT indexname FROM pg_indexes WHERE tablename = 'inbox'")
    assert "inbox_processed_at" in {r["indexname"] for r in indexes}, "the cleanup's index (0003)"
