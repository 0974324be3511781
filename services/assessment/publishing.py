"""The outbox publisher of `achievement.earned`, bound to one transaction's connection; shared by
the Kafka handlers and HTTP ingest so both paths publish the same way."""

from __future__ import annotations

import asyncpg

from contracts.topics import ACHIEVEMENTS_EARNED
from contracts.v1.assessment import AchievementEarned
from services.assessment.service import PublishEarned
from services.runtime import outbox


def earned_publisher(conn: asyncpg.Connection, *, source: str) -> PublishEarned:
    async def publish(event: AchievementEarned) -> None:
        await outbox.enqueue(
            conn,
            topic=ACHIEVEMENTS_EARNED,
            key=event.earned_id,
            event=event,
            source=source,
            # The earned id is the event id: a re-derived award is recognisably the same event.
            event_id=event.earned_id,
            subject=event.learner.id,
        )

    return publish
