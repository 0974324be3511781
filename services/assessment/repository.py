"""Every SQL statement of the assessment service. Takes a connection; never opens a transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from services.assessment.domain import Achievement, Criteria, Learner, Result


def _achievement(row: asyncpg.Record) -> Achievement:
    return Achievement(
        achievement_id=row["achievement_id"],
        issuer_id=row["issuer_id"],
        revision=row["revision"],
        name=row["name"],
        criteria=Criteria(
            required_activity_ids=tuple(row["required_activity_ids"]),
            min_scaled_score=row["min_scaled_score"],
            require_success=row["require_success"],
        ),
        status=row["status"],
    )


class AssessmentRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def upsert_achievement(self, *, achievement: Achievement) -> bool:
        """Store a definition unless a newer revision is already stored; True if stored."""
        stored = await self._conn.fetchval(
            """
            INSERT INTO achievements AS a (achievement_id, issuer_id, revision, name,
                required_activity_ids, min_scaled_score, require_success, status)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (achievement_id) DO UPDATE SET
                issuer_id = EXCLUDED.issuer_id, revision = EXCLUDED.revision, name = EXCLUDED.name,
                required_activity_ids = EXCLUDED.required_activity_ids,
                min_scaled_score = EXCLUDED.min_scaled_score,
                require_success = EXCLUDED.require_success, status = EXCLUDED.status,
                updated_at = now()
            WHERE a.revision < EXCLUDED.revision
            RETURNING true
            """,
            achievement.achievement_id,
            achievement.issuer_id,
            achievement.revision,
            achievement.name,
            list(achievement.criteria.required_activity_ids),
            achievement.criteria.min_scaled_score,
            achievement.criteria.require_success,
            achievement.status,
        )
        return bool(stored)

    async def find_achievements_requiring(self, *, issuer_id: str, activity_id: str) -> list[Achievement]:
        rows = await self._conn.fetch(
            "SELECT * FROM achievements WHERE issuer_id = $1 AND status = 'active' "
            "AND required_activity_ids @> ARRAY[$2::text]",
            issuer_id,
            activity_id,
        )
        return [_achievement(r) for r in rows]

    async def list_achievements(self, *, issuer_id: str | None = None) -> list[tuple[Achievement, int]]:
        rows = await self._conn.fetch(
            "SELECT a.*, (SELECT count(*) FROM earned e WHERE e.achievement_id = a.achievement_id) "
            "AS earned_count FROM achievements a WHERE $1::text IS NULL OR a.issuer_id = $1 "
            "ORDER BY a.issuer_id, a.achievement_id",
            issuer_id,
        )
        return [(_achievement(r), r["earned_count"]) for r in rows]

    async def upsert_learner(self, *, issuer_id: str, learner: Learner) -> None:
        await self._conn.execute(
            """
            INSERT INTO learners (issuer_id, learner_id, email, name, did) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (issuer_id, learner_id) DO UPDATE SET
                email = coalesce(EXCLUDED.email, learners.email),
                name = coalesce(EXCLUDED.name, learners.name),
                did = coalesce(EXCLUDED.did, learners.did), updated_at = now()
            """,
            issuer_id,
            learner.learner_id,
            learner.email,
            learner.name,
            learner.did,
        )

    async def get_learner(self, *, issuer_id: str, learner_id: str) -> Learner | None:
        row = await self._conn.fetchrow(
            "SELECT * FROM learners WHERE issuer_id = $1 AND learner_id = $2", issuer_id, learner_id
        )
        if row is None:
            return None
        return Learner(learner_id=row["learner_id"], email=row["email"], name=row["name"], did=row["did"])

    async def insert_result(
        self,
        *,
        issuer_id: str,
        learner_id: str,
        result: Result,
        attempt: int | None,
        source_format: str,
        raw: Any,
        lms_id: str | None = None,
    ) -> bool:
        """Store a result; False if this issuer already has a result with this id."""
        inserted = await self._conn.fetchval(
            """
            INSERT INTO results (issuer_id, result_id, learner_id, activity_id, score_scaled,
                success, completion, attempt, occurred_at, source_format, raw, lms_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            ON CONFLICT (issuer_id, result_id) DO NOTHING
            RETURNING true
            """,
            issuer_id,
            result.result_id,
            learner_id,
            result.activity_id,
            result.score_scaled,
            result.success,
            result.completion,
            attempt,
            result.occurred_at,
            source_format,
            raw,
            lms_id,
        )
        return bool(inserted)

    async def list_results(
        self, *, issuer_id: str, learner_id: str, activity_ids: tuple[str, ...]
    ) -> list[Result]:
        rows = await self._conn.fetch(
            "SELECT result_id, activity_id, score_scaled, success, completion, occurred_at "
            "FROM results WHERE issuer_id = $1 AND learner_id = $2 AND activity_id = ANY($3::text[])",
            issuer_id,
            learner_id,
            list(activity_ids),
        )
        return [Result(**dict(r)) for r in rows]

    async def list_learners_with_results(self, *, issuer_id: str, activity_ids: tuple[str, ...]) -> list[str]:
        rows = await self._conn.fetch(
            "SELECT DISTINCT learner_id FROM results WHERE issuer_id = $1 AND activity_id = ANY($2::text[])",
            issuer_id,
            list(activity_ids),
        )
        return [r["learner_id"] for r in rows]

    async def has_earned(self, *, issuer_id: str, achievement_id: str, learner_id: str) -> bool:
        return bool(
            await self._conn.fetchval(
                "SELECT true FROM earned WHERE issuer_id = $1 AND achievement_id = $2 AND learner_id = $3",
                issuer_id,
                achievement_id,
                learner_id,
            )
        )

    async def insert_earned(
        self,
        *,
        issuer_id: str,
        achievement_id: str,
        learner_id: str,
        earned_id: str,
        revision: int,
        earned_at: datetime,
    ) -> bool:
        """Record the award; False if the learner already holds it (the unique key decides)."""
        inserted = await self._conn.fetchval(
            """
            INSERT INTO earned (issuer_id, achievement_id, learner_id, earned_id,
                achievement_revision, earned_at)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT DO NOTHING
            RETURNING true
            """,
            issuer_id,
            achievement_id,
            learner_id,
            earned_id,
            revision,
            earned_at,
        )
        return bool(inserted)
