"""HTTP API of the issuance service (VC-API shaped), its admin API, and its public documents; one
router per resource.

Public (rate-limited per client address): DID documents (did:web), the JSON-LD context and JSON
Schema of the profile, and `POST /credentials/verify`. Authenticated by principal
(services/runtime/auth.py): issuers, keys, achievements, `POST /credentials/issue`, and reading a
stored credential; an issuer principal acts only for its own issuer (another issuer's private
resource reads as 404, a write for it is 403), the revocation service's principal may only have
status list credentials signed. Every error is problem+json.
"""

from __future__ import annotations

import asyncpg
import httpx
from fastapi import FastAPI

from services.issuance.context import ContextFactory
from services.issuance.fetch_guard import FetchPolicy
from services.issuance.http.achievements import achievements_router
from services.issuance.http.credentials import credentials_router, verification_router
from services.issuance.http.documents import documents_router
from services.issuance.http.issuers import issuers_router
from services.issuance.settings import Settings
from services.runtime.auth import http_guards
from services.runtime.http import ReadinessCheck, health_router, install_problem_handlers


def create_http(
    settings: Settings,
    pool: asyncpg.Pool,
    ready: ReadinessCheck,
    context: ContextFactory,
    status_client: httpx.AsyncClient,
    *,
    fetch_policy: FetchPolicy,
) -> FastAPI:
    """`status_client` fetches status lists for verification (the SSRF-guarded client of
    fetch_guard.py, owned and closed by the host) under `fetch_policy`."""
    app = FastAPI(
        title="credstream issuance",
        version="1.0.0",
        description="Issuers, micro-credential specifications, VC-API issue and verify, DID documents.",
    )
    install_problem_handlers(app)
    app.include_router(health_router(ready))
    guards = http_guards(settings)
    app.include_router(issuers_router(settings, pool, context, guards))
    app.include_router(achievements_router(pool, context, guards))
    app.include_router(documents_router(pool, guards))
    app.include_router(credentials_router(settings, pool, context, guards))
    app.include_router(
        verification_router(settings, pool, guards, status_client=status_client, fetch_policy=fetch_policy)
    )
    return app
