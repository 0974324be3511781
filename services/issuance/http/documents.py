"""Public documents: issuers' DID documents (did:web), the profile's JSON-LD context and JSON
Schema (rate-limited per client address)."""

from __future__ import annotations

import asyncpg
from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from services.issuance import service
from services.issuance.profile import schema_bytes
from services.issuance.repository import IssuanceRepository
from services.runtime.auth import HttpGuards
from services.runtime.db import acquire
from services.runtime.http import Problem
from vc.jsonld import CREDSTREAM_CONTEXT_URL, context_document


def documents_router(pool: asyncpg.Pool, guards: HttpGuards) -> APIRouter:
    router = APIRouter(tags=["documents"])
    public = [Depends(guards.public)]

    @router.get("/issuers/{issuer_id}/did.json", dependencies=public)
    async def did_document(issuer_id: str) -> JSONResponse:
        async with acquire(pool) as conn:
            document = await service.did_document(issuer_id, repo=IssuanceRepository(conn))
        if document is None:
            raise Problem(404, "Not found", f"no issuer {issuer_id}")
        return JSONResponse(document, media_type="application/did+json")

    @router.get("/contexts/micro-credential/v1", dependencies=public)
    async def credstream_context() -> Response:
        return Response(context_document(CREDSTREAM_CONTEXT_URL), media_type="application/ld+json")

    @router.get("/schemas/micro-credential/v1.json", dependencies=public)
    async def profile_schema() -> Response:
        return Response(schema_bytes(), media_type="application/schema+json")

    return router
