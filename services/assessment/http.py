"""HTTP API of the assessment service: health, and an authenticated read-only admin view."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, FastAPI, Header

from services.assessment.repository import AssessmentRepository
from services.assessment.settings import Settings
from services.runtime.db import acquire
from services.runtime.http import Problem, ReadinessCheck, health_router, install_problem_handlers


def create_http(settings: Settings, pool: asyncpg.Pool, ready: ReadinessCheck) -> FastAPI:
    app = FastAPI(
        title="credstream assessment",
        version="1.0.0",
        description="Assessment results are ingested from Kafka; this API serves health and an admin view.",
    )
    install_problem_handlers(app)
    app.include_router(health_router(ready))

    async def require_admin(authorization: Annotated[str | None, Header()] = None) -> None:
        if not authorization:
            raise Problem(401, "Unauthenticated", "an `Authorization: Bearer <token>` header is required")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            token.encode(), settings.admin_token.get_secret_value().encode()
        ):
            raise Problem(403, "Forbidden", "the bearer token is not the assessment admin token")

    @app.get("/admin/achievements", dependencies=[Depends(require_admin)])
    async def list_achievements(issuer_id: str | None = None) -> list[dict[str, Any]]:
        async with acquire(pool) as conn:
            rows = await AssessmentRepository(conn).list_achievements(issuer_id=issuer_id)
        return [
            {
                "achievement_id": a.achievement_id,
                "issuer_id": a.issuer_id,
                "revision": a.revision,
                "name": a.name,
                "status": a.status,
                "criteria": {
                    "required_activity_ids": list(a.criteria.required_activity_ids),
                    "min_scaled_score": a.criteria.min_scaled_score,
                    "require_success": a.criteria.require_success,
                },
                "earned_count": count,
            }
            for a, count in rows
        ]

    return app
