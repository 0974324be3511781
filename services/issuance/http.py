"""HTTP API of the issuance service (VC-API shaped), its admin API, and its public documents.

Public (rate-limited per client address): DID documents (did:web), the JSON-LD context and JSON
Schema of the profile, and `POST /credentials/verify`. Authenticated by principal
(services/runtime/auth.py): issuers, keys, achievements, `POST /credentials/issue`, and reading a
stored credential; an issuer principal acts only for its own issuer (another issuer's private
resource reads as 404, a write for it is 403), the revocation service's principal may only have
status list credentials signed. Every error is problem+json.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import asyncpg
import httpx
from fastapi import Body, Depends, FastAPI, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.issuance import service
from services.issuance.context import ContextFactory
from services.issuance.domain import IssuanceError, IssuerProfile, MicroCredentialSpec, Slug, did_web
from services.issuance.fetch_guard import FetchPolicy
from services.issuance.profile import schema_bytes
from services.issuance.repository import IssuanceRepository
from services.issuance.settings import Settings
from services.issuance.status import PURPOSES
from services.issuance.status_repository import StatusPoolRepository
from services.issuance.verification import (
    attestation_named,
    check_quality_assurance,
    check_status,
    http_fetcher,
    issuer_id_of,
    verify_credential,
)
from services.runtime.auth import Principal, forbid_unless, http_guards, not_found_for
from services.runtime.db import acquire, transaction
from services.runtime.http import (
    CREATED,
    PROBLEM_JSON,
    Problem,
    ReadinessCheck,
    health_router,
    install_problem_handlers,
    put_outcome,
    resource_at,
)
from services.runtime.vc.jsonld import CREDSTREAM_CONTEXT_URL, context_document
from services.runtime.vc.keys import StaticKeyResolver
from services.runtime.vc.status import ListCache

_STATUS = {
    "issuer_unknown": 404,
    "achievement_unknown": 404,
    "achievement_owned_elsewhere": 409,
    "issuer_has_no_key": 409,
    "issuer_not_ours": 422,
    "profile_invalid": 422,
}


def _problem(error: IssuanceError) -> Problem:
    status = _STATUS.get(error.reason, 422)
    return Problem(status, error.reason.replace("_", " ").capitalize(), error.message, reason=error.reason)


class IssuerBody(IssuerProfile):
    """`PUT /admin/issuers/{issuer_id}`: the path names the issuer, so the body may leave it out."""

    issuer_id: Slug | None = None  # type: ignore[assignment]


class AchievementBody(MicroCredentialSpec):
    """`PUT /admin/achievements/{achievement_id}`: the path names it; the body may leave it out."""

    achievement_id: Slug | None = None  # type: ignore[assignment]


class IssueRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credential: dict[str, Any]
    options: dict[str, Any] = Field(default_factory=dict)


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verifiableCredential: Any
    options: dict[str, Any] = Field(default_factory=dict)


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
    public = [Depends(guards.public)]
    admin = guards.principal("operator", "issuer")
    signer = guards.principal("operator", "issuer", "service")

    # admin: issuers, keys, achievements

    @app.put("/admin/issuers/{issuer_id}", status_code=200, responses=CREATED)
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

    @app.get("/admin/issuers/{issuer_id}")
    async def get_issuer(issuer_id: str, caller: Principal = Depends(admin)) -> dict[str, Any]:
        """The issuer as last put, with its DID (another issuer's reads as 404)."""
        not_found_for(caller, issuer_id, f"issuer {issuer_id}")
        async with acquire(pool) as conn:
            stored = await IssuanceRepository(conn).get_issuer(issuer_id)
        if stored is None:
            raise Problem(404, "Not found", f"no issuer {issuer_id}", reason="issuer_unknown")
        return {**stored.profile.model_dump(mode="json"), "did": stored.did}

    @app.get("/admin/issuers")
    async def list_issuers(caller: Principal = Depends(admin)) -> list[dict[str, Any]]:
        """Every issuer for an operator; an issuer principal sees its own only."""
        async with acquire(pool) as conn:
            issuers = await IssuanceRepository(conn).list_issuers()
        return [
            {**i.profile.model_dump(mode="json"), "did": i.did}
            for i in issuers
            if caller.may_act_for(i.profile.issuer_id)
        ]

    @app.post("/admin/issuers/{issuer_id}/keys/rotate")
    async def rotate(issuer_id: str, caller: Principal = Depends(admin)) -> dict[str, Any]:
        forbid_unless(caller, issuer_id, f"issuer {issuer_id}")
        async with transaction(pool) as conn:
            try:
                key_id = await service.rotate_key(issuer_id, repo=IssuanceRepository(conn), ctx=context(conn))
            except IssuanceError as error:
                raise _problem(error) from error
        return {"issuer_id": issuer_id, "active_key": key_id}

    @app.get("/admin/issuers/{issuer_id}/requests")
    async def requests(
        issuer_id: str, state: Literal["parked", "issued"] | None = None, caller: Principal = Depends(admin)
    ) -> list[dict[str, Any]]:
        """Awards received, newest first; `state=parked` lists what waits, with its reason."""
        not_found_for(caller, issuer_id, f"issuer {issuer_id}")
        async with acquire(pool) as conn:
            rows = await IssuanceRepository(conn).request_states(issuer_id, state=state)
        return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()} for r in rows]

    @app.get("/admin/issuers/{issuer_id}/status-indexes")
    async def status_indexes(issuer_id: str, caller: Principal = Depends(admin)) -> dict[str, int]:
        """Free status list indexes reserved for this issuer, per purpose (0 means awards wait)."""
        not_found_for(caller, issuer_id, f"issuer {issuer_id}")
        async with acquire(pool) as conn:
            pool_repo = StatusPoolRepository(conn)
            return {
                purpose: await pool_repo.free_count(issuer_id=issuer_id, purpose=purpose)
                for purpose in PURPOSES
            }

    @app.put("/admin/achievements/{achievement_id}", status_code=200, responses=CREATED)
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
                raise _problem(error) from error
        put_outcome(response, created=existing is None, location=f"/admin/achievements/{achievement_id}")
        return {"achievement_id": achievement_id, "revision": revision, "released_credentials": issued}

    @app.get("/admin/achievements/{achievement_id}")
    async def get_achievement(achievement_id: str, caller: Principal = Depends(admin)) -> dict[str, Any]:
        """The achievement as last put, with its revision (another issuer's reads as 404)."""
        async with acquire(pool) as conn:
            stored = await IssuanceRepository(conn).get_achievement(achievement_id)
        if stored is None or not caller.may_act_for(stored.spec.issuer_id):
            raise Problem(404, "Not found", f"no achievement {achievement_id}", reason="achievement_unknown")
        return {**stored.spec.model_dump(mode="json"), "revision": stored.revision}

    @app.get("/admin/achievements")
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

    # public documents

    @app.get("/issuers/{issuer_id}/did.json", dependencies=public)
    async def did_document(issuer_id: str) -> JSONResponse:
        async with acquire(pool) as conn:
            document = await service.did_document(issuer_id, repo=IssuanceRepository(conn))
        if document is None:
            raise Problem(404, "Not found", f"no issuer {issuer_id}")
        return JSONResponse(document, media_type="application/did+json")

    @app.get("/contexts/micro-credential/v1", dependencies=public)
    async def credstream_context() -> Response:
        return Response(context_document(CREDSTREAM_CONTEXT_URL), media_type="application/ld+json")

    @app.get("/schemas/micro-credential/v1.json", dependencies=public)
    async def profile_schema() -> Response:
        return Response(schema_bytes(), media_type="application/schema+json")

    # VC-API

    @app.post("/credentials/issue", status_code=201)
    async def issue(
        request: Annotated[IssueRequest, Body()], caller: Principal = Depends(signer)
    ) -> dict[str, Any]:
        credential = dict(request.credential)
        issuer_did = issuer_id_of(credential)
        prefix = did_web(settings.public_base_url, "")
        if issuer_did is None or not issuer_did.startswith(prefix):
            raise Problem(
                422, "Issuer not ours", "credential.issuer must be the did:web of one of our issuers"
            )
        if caller.role == "service":
            # The revocation service signs status lists with the issuer's key, nothing else.
            types = credential.get("type")
            if not isinstance(types, list) or "BitstringStatusListCredential" not in types:
                raise Problem(
                    403, "Forbidden", "a service principal may only have status list credentials signed",
                    reason="role_forbidden",
                )  # fmt: skip
        else:
            forbid_unless(caller, issuer_did.removeprefix(prefix), f"issuer {issuer_did}")
        async with transaction(pool) as conn:
            repo = IssuanceRepository(conn)
            issuer = await repo.get_issuer(issuer_did.removeprefix(prefix))
            if issuer is None or issuer.did != issuer_did:
                raise Problem(404, "Issuer unknown", f"{issuer_did} is not a registered issuer")
            if "validFrom" not in credential:
                raise Problem(400, "Invalid credential", "credential.validFrom is required")
            try:
                signed = await service.sign(credential, issuer=issuer, repo=repo, ctx=context(conn))
            except IssuanceError as error:
                raise _problem(error) from error
        return {"verifiableCredential": signed}

    status_cache = ListCache(default_ttl_s=60.0)
    fetch_status = http_fetcher(status_client, status_cache, fetch_policy)

    async def resolver_for(document: dict[str, Any]) -> StaticKeyResolver:
        """Keys of our own issuers' did:web documents (foreign DIDs are not resolved yet)."""
        resolver = StaticKeyResolver()
        prefix = did_web(settings.public_base_url, "")
        proof = document.get("proof")
        vm = proof.get("verificationMethod") if isinstance(proof, dict) else None
        if isinstance(vm, str) and vm.startswith(prefix):
            async with acquire(pool) as conn:
                did_doc = await service.did_document(
                    vm.removeprefix(prefix).split("#")[0], repo=IssuanceRepository(conn)
                )
            if did_doc is not None:
                resolver.add(did_doc)
        return resolver

    @app.post("/credentials/verify", response_model=None, dependencies=public)
    async def verify(request: Annotated[VerifyRequest, Body()]) -> JSONResponse:
        document = request.verifiableCredential
        resolver = await resolver_for(document) if isinstance(document, dict) else StaticKeyResolver()
        result = verify_credential(document, resolver=resolver)
        await check_status(
            document,
            result,
            fetch=fetch_status,
            resolver_for=resolver_for,
            cache=status_cache,
        )
        attestation = None
        if named := attestation_named(document):
            async with acquire(pool) as conn:
                attestation = await IssuanceRepository(conn).get_qa_attestation(named)
        check_quality_assurance(result, document, attestation)
        if result.verified:
            return JSONResponse(result.as_json())
        body = {
            "type": "https://credstream.dev/problems/verification-failed",
            "title": "Verification failed",
            "status": 400,
            "detail": "; ".join(f"{e['code']}: {e['message']}" for e in result.errors[:5]),
            **result.as_json(),
        }
        return JSONResponse(body, status_code=400, media_type=PROBLEM_JSON)

    @app.get("/credentials/{credential_uuid}")
    async def get_credential(credential_uuid: str, caller: Principal = Depends(admin)) -> dict[str, Any]:
        credential_id = (
            credential_uuid if credential_uuid.startswith("urn:") else f"urn:uuid:{credential_uuid}"
        )
        async with acquire(pool) as conn:
            stored = await IssuanceRepository(conn).get_credential(credential_id)
        if stored is None:
            raise Problem(404, "Not found", f"no credential {credential_id}")
        not_found_for(caller, stored.issuer_id, f"credential {credential_id}")
        return stored.document

    return app
