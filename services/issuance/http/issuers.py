"""`/admin/issuers`: issuers (tenants), their keys, their awards and status index pools."""

from __future__ import annotations

from typing import Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Response

from services.issuance import service
from services.issuance.context import ContextFactory
from services.issuance.domain import IssuanceError, IssuerProfile, Slug, did_web
from services.issuance.http.problems import problem_of
from services.issuance.repository import IssuanceRepository
from services.issuance.settings import Settings
from services.issuance.status import PURPOSES
from services.issuance.status_repository import StatusPoolRepository
from services.runtime.auth import HttpGuards, Principal, forbid_unless, not_found_for
from services.runtime.db import acquire, transaction
from services.runtime.http import CREATED, Problem, put_outcome, resource_at


class IssuerBody(IssuerProfile):
    """`PUT /admin/issuers/{issuer_id}`: the path names the issuer, so the body may leave it out."""

    issuer_id: Slug | None = None  # type: ignore[assignment]


def issuers_router(
    settings: Settings, pool: asyncpg.Pool, context: ContextFactory, guards: HttpGuards
) -> APIRouter:
    router = APIRouter(tags=["issuers"])
    admin = guards.principal("operator", "issuer")

    @router.put("/admin/issuers/{issuer_id}", status_code=200, responses=CREATED)
    async def put_issuer(
        issuer_id: str, body: IssuerBody, response: Response, caller: Principal = Depends(admin)
    ) -> dict[str, Any]:
        forbid_unless(caller, issuer_id, f"issuer {issuer_id}")
        profile = resource_at(issuer_id, body, IssuerProfile, id_field="issuer_id")
        async with transaction(pool) as conn:
            repo = IssuanceRepository(conn)
            if not caller.is_operator and await repo.get_issuer(issuer_id) is None:
                raise Problem(
                    403, "Forbidden", "only an operator registers a new issuer", reason="operator_only"
                )
            created = await service.register_issuer(profile, repo=repo, ctx=context(conn))
        put_outcome(response, created=created, location=f"/admin/issuers/{issuer_id}")
        return {
            "issuer_id": issuer_id,
            "did": did_web(settings.public_base_url, issuer_id),
            "created": created,
        }

    @router.get("/admin/issuers/{issuer_id}")
    async def get_issuer(issuer_id: str, caller: Principal = Depends(admin)) -> dict[str, Any]:
        """The issuer as last put, with its DID (another issuer's reads as 404)."""
        not_found_for(caller, issuer_id, f"issuer {issuer_id}")
        async with acquire(pool) as conn:
            stored = await IssuanceRepository(conn).get_issuer(issuer_id)
        if stored is None:
            raise Problem(404, "Not found", f"no issuer {issuer_id}", reason="issuer_unknown")
        return {**stored.profile.model_dump(mode="json"), "did": stored.did}

    @router.get("/admin/issuers")
    async def list_issuers(caller: Principal = Depends(admin)) -> list[dict[str, Any]]:
        """Every issuer for an operator; an issuer principal sees its own only."""
        async with acquire(pool) as conn:
            issuers = await IssuanceRepository(conn).list_issuers()
        return [
            {**i.profile.model_dump(mode="json"), "did": i.did}
            for i in issuers
            if caller.may_act_for(i.profile.issuer_id)
        ]

    @router.post("/admin/issuers/{issuer_id}/keys/rotate")
    async def rotate(issuer_id: str, caller: Principal = Depends(admin)) -> dict[str, Any]:
        forbid_unless(caller, issuer_id, f"issuer {issuer_id}")
        async with transaction(pool) as conn:
            try:
                key_id = await service.rotate_key(issuer_id, repo=IssuanceRepository(conn), ctx=context(conn))
            except IssuanceError as error:
                raise problem_of(error) from error
        return {"issuer_id": issuer_id, "active_key": key_id}

    @router.get("/admin/issuers/{issuer_id}/requests")
    async def requests(
        issuer_id: str, state: Literal["parked", "issued"] | None = None, caller: Principal = Depends(admin)
    ) -> list[dict[str, Any]]:
        """Awards received, newest first; `state=parked` lists what waits, with its reason."""
        not_found_for(caller, issuer_id, f"issuer {issuer_id}")
        async with acquire(pool) as conn:
            rows = await IssuanceRepository(conn).request_states(issuer_id, state=state)
        return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()} for r in rows]

    @router.get("/admin/issuers/{issuer_id}/status-indexes")
    async def status_indexes(issuer_id: str, caller: Principal = Depends(admin)) -> dict[str, int]:
        """Free status list indexes reserved for this issuer, per purpose (0 means awards wait)."""
        not_found_for(caller, issuer_id, f"issuer {issuer_id}")
        async with acquire(pool) as conn:
            pool_repo = StatusPoolRepository(conn)
            return {
                purpose: await pool_repo.free_count(issuer_id=issuer_id, purpose=purpose)
                for purpose in PURPOSES
            }

    return router
