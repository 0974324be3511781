"""`/admin/achievements`: micro-credential specifications."""

from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, Response

from services.issuance import service
from services.issuance.context import ContextFactory
from services.issuance.domain import IssuanceError, MicroCredentialSpec, Slug
from services.issuance.http.problems import problem_of
from services.issuance.repository import IssuanceRepository
from services.runtime.auth import HttpGuards, Principal, forbid_unless, not_found_for
from services.runtime.db import acquire, transaction
from services.runtime.http import CREATED, Problem, put_outcome, resource_at


class AchievementBody(MicroCredentialSpec):
    """`PUT /admin/achievements/{achievement_id}`: the path names it; the body may leave it out."""

    achievement_id: Slug | None = None  # type: ignore[assignment]


def achievements_router(pool: asyncpg.Pool, context: ContextFactory, guards: HttpGuards) -> APIRouter:
    router = APIRouter(tags=["achievements"])
    admin = guards.principal("operator", "issuer")

    @router.put("/admin/achievements/{achievement_id}", status_code=200, responses=CREATED)
    async def put_achievement(
        achievement_id: str, body: AchievementBody, response: Response, caller: Principal = Depends(admin)
    ) -> dict[str, Any]:
        forbid_unless(caller, body.issuer_id, f"issuer {body.issuer_id}")
        spec = resource_at(achievement_id, body, MicroCredentialSpec, id_field="achievement_id")
        async with transaction(pool) as conn:
            repo = IssuanceRepository(conn)
            existing = await repo.get_achievement(achievement_id)
            if existing is not None:
                forbid_unless(caller, existing.spec.issuer_id, f"achievement {achievement_id}")
            try:
                revision, issued = await service.define_achievement(spec, repo=repo, ctx=context(conn))
            except IssuanceError as error:
                raise problem_of(error) from error
        put_outcome(response, created=existing is None, location=f"/admin/achievements/{achievement_id}")
        return {"achievement_id": achievement_id, "revision": revision, "released_credentials": issued}

    @router.get("/admin/achievements/{achievement_id}")
    async def get_achievement(achievement_id: str, caller: Principal = Depends(admin)) -> dict[str, Any]:
        """The achievement as last put, with its revision (another issuer's reads as 404)."""
        async with acquire(pool) as conn:
            stored = await IssuanceRepository(conn).get_achievement(achievement_id)
        if stored is None or not caller.may_act_for(stored.spec.issuer_id):
            raise Problem(404, "Not found", f"no achievement {achievement_id}", reason="achievement_unknown")
        return {**stored.spec.model_dump(mode="json"), "revision": stored.revision}

    @router.get("/admin/achievements")
    async def list_achievements(
        issuer_id: str | None = None, caller: Principal = Depends(admin)
    ) -> list[dict[str, Any]]:
        """Every issuer's for an operator (or `issuer_id`'s); an issuer principal's own only."""
        if not caller.is_operator:
            not_found_for(caller, issuer_id or caller.issuer_id, f"issuer {issuer_id}")
            issuer_id = caller.issuer_id
        async with acquire(pool) as conn:
            stored = await IssuanceRepository(conn).list_achievements(issuer_id)
        return [{**a.spec.model_dump(mode="json"), "revision": a.revision} for a in stored]

    return router
