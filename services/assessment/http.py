"""HTTP API of the assessment service: health, LMS ingest (per-LMS tokens), and an authenticated
read-only admin view (an operator sees every issuer's achievements, an issuer principal its own)."""

from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import Depends, FastAPI

from services.assessment.ingest import ingest_router, xapi_version_header
from services.assessment.repository import AssessmentRepository
from services.assessment.settings import Settings
from services.runtime.auth import Principal, http_guards, not_found_for
from services.runtime.db import acquire
from services.runtime.http import ReadinessCheck, health_router, install_problem_handlers
from services.runtime.outbox import Publisher


def create_http(
    settings: Settings, pool: asyncpg.Pool, ready: ReadinessCheck, publisher: Publisher
) -> FastAPI:
    app = FastAPI(
        title="credstream assessment",
        version="1.0.0",
        description="Assessment results are ingested from Kafka and, for LMSs, over HTTP (xAPI, "
        "Caliper, LTI AGS scores); this API also serves health and an admin view.",
    )
    install_problem_handlers(app)
    app.include_router(health_router(ready))
    app.middleware("http")(xapi_version_header)
    app.include_router(ingest_router(settings.lms_directory(), pool, publisher=publisher))

    admin = http_guards(settings).principal("operator", "issuer")

    @app.get("/admin/achievements")
    async def list_achievements(
        issuer_id: str | None = None, caller: Principal = Depends(admin)
    ) -> list[dict[str, Any]]:
        if not caller.is_operator:
            not_found_for(caller, issuer_id or caller.issuer_id, f"issuer {issuer_id}")
            issuer_id = caller.issuer_id
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
