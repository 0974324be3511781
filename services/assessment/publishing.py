"""The outbox publisher of `achievement.earned`, bound to one transaction's connection; shared by
the Kafka handlers and HTTP ingest so both paths publish the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg
from opentelemetry.context import Context

from contracts.topics import ACHIEVEMENTS_EARNED
from contracts.v1.assessment import AchievementEarned
from services.assessment.service import PublishEarned
from services.runtime import outbox


def earned_publisher(
    conn: asyncpg.Connection, *, source: str, traces: Mapping[tuple[str, str], Context | None] | None = None
) -> PublishEarned:
    """`traces` maps (issuer id, learner id) to the trace context of the record that brought the
    learner's result (batches); without it the current context is used."""

    async def publish(events: Sequence[AchievementEarned]) -> None:
        await outbox.enqueue_all(
            conn,
            [
                outbox.Outgoing(
                    topic=ACHIEVEMENTS_EARNED,
                    key=event.earned_id,
                    event=event,
                    source=source,
                    # The earned id is the event id: a re-derived award is recognisably the same event.
                    event_id=event.earned_id,
                    subject=event.learner.id,
                    context=traces.get((event.issuer_id, event.learner.id)) if traces else None,
                )
                for event in events
            ],
        )

    return publish
