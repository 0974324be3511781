"""The VC-API: `POST /credentials/issue` (operators, the credential's issuer, or the revocation
service for status lists only), `POST /credentials/verify` (public, rate-limited) and reading a
stored credential."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
import httpx
from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.convertors import Convertor, register_url_convertor

from services.issuance import service
from services.issuance.context import ContextFactory
from services.issuance.domain import IssuanceError, did_web
from services.issuance.fetch_guard import FetchPolicy
from services.issuance.http.problems import problem_of
from services.issuance.repository import IssuanceRepository
from services.issuance.settings import Settings
from services.issuance.verification import (
    attestation_named,
    check_quality_assurance,
    check_status,
    http_fetcher,
    issuer_id_of,
    verify_credential,
)
from services.runtime.auth import HttpGuards, Principal, forbid_unless, not_found_for
from services.runtime.db import acquire, transaction
from services.runtime.http import PROBLEM_JSON, Problem
from vc.keys import StaticKeyResolver
from vc.status import ListCache


class _CredentialId(Convertor[str]):
    """A path segment that is a credential id: a UUID, bare or as `urn:uuid:`."""

    regex = "(?:urn:uuid:)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("credential_uuid", _CredentialId())


class IssueRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credential: dict[str, Any]
    options: dict[str, Any] = Field(default_factory=dict)


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verifiableCredential: Any
    options: dict[str, Any] = Field(default_factory=dict)


def credentials_router(
    settings: Settings,
    pool: asyncpg.Pool,
    context: ContextFactory,
    guards: HttpGuards,
) -> APIRouter:
    """Issue (VC-API) and read stored credentials."""
    router = APIRouter(tags=["credentials"])
    admin = guards.principal("operator", "issuer")
    signer = guards.principal("operator", "issuer", "service")

    @router.post("/credentials/issue", status_code=201)
    async def issue(
        request: Annotated[IssueRequest, Body()], caller: Principal = Depends(signer)
    ) -> dict[str, Any]:
        credential = dict(request.credential)
        try:
            issuer_id = service.issuer_named(credential, public_base_url=settings.public_base_url)
        except IssuanceError as error:
            raise problem_of(error) from error
        if caller.role == "service":
            # The revocation service signs status lists with the issuer's key, nothing else.
            types = credential.get("type")
            if not isinstance(types, list) or "BitstringStatusListCredential" not in types:
                raise Problem(
                    403, "Forbidden", "a service principal may only have status list credentials signed",
                    reason="role_forbidden",
                )  # fmt: skip
        else:
            forbid_unless(caller, issuer_id, f"issuer {issuer_id_of(credential)}")
        async with transaction(pool) as conn:
            try:
                signed = await service.issue_direct(
                    credential, repo=IssuanceRepository(conn), ctx=context(conn)
                )
            except IssuanceError as error:
                raise problem_of(error) from error
        return {"verifiableCredential": signed}

    # Only a credential id in the path (a UUID, bare or as `urn:uuid:`): `GET /credentials/verify`
    # must not be read as one (it was, and answered 401); it gets the POST route's 405 instead.
    @router.get("/credentials/{credential_uuid:credential_uuid}")
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

    return router


def verification_router(
    settings: Settings,
    pool: asyncpg.Pool,
    guards: HttpGuards,
    *,
    status_client: httpx.AsyncClient,
    fetch_policy: FetchPolicy,
) -> APIRouter:
    """`POST /credentials/verify` (VC-API), public: the same verifier as every other path, with
    status lists fetched through the SSRF-guarded `status_client` under `fetch_policy`."""
    router = APIRouter(tags=["verification"])
    public = [Depends(guards.public)]

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

    @router.post("/credentials/verify", response_model=None, dependencies=public)
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

    return router
