"""HTTP API of the revocation service.

Public, read-only, rate-limited per client address: `GET /status-lists/{issuer}/{purpose}/{seq}`
(the signed BitstringStatusListCredential, with `ETag`, `Cache-Control` from the list's `ttl`, and
304 for a matching `If-None-Match`). Authenticated by principal (services/runtime/auth.py): status
updates in the VC-API shape (`POST /credentials/status`, one credential;
`POST /credentials/status/bulk`, many), a credential's status and audit, and an issuer's lists.
An issuer principal acts only on its own issuer's credentials: a change to another issuer's is
refused with 403 before anything is written (no audit row either), another issuer's status or
lists read as 404. The audit names the principal as the actor. Every error is problem+json.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal, NotRequired

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Request, Response
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from services.revocation import service
from services.revocation.context import ContextFactory
from services.revocation.domain import ChangeOutcome, ChangeRequest, Purpose
from services.revocation.repository import Published, RevocationRepository
from services.revocation.settings import Settings
from services.runtime.auth import HttpGuards, Principal, forbid_unless, http_guards, not_found_for
from services.runtime.db import acquire, transaction
from services.runtime.http import (
    Problem,
    ReadinessCheck,
    health_router,
    install_problem_handlers,
)
from vc.status import Bitstring

SERVED_CACHE_S = 1.0


VC_MEDIA_TYPE = "application/vc"
"""VC Data Model 2.0 section 6.3; the list is secured by an embedded Data Integrity proof."""

_FINAL = "revocation_is_final"

_STATUS_WORDS: dict[str, tuple[Purpose, bool]] = {
    "revoked": ("revocation", True),
    "suspended": ("suspension", True),
    "unsuspended": ("suspension", False),
    "active": ("suspension", False),
}


# Request bodies are TypedDicts validated by pydantic-core straight from the JSON bytes: a bulk
# request of 100,000 updates validates in a third of the time BaseModel instances take.


class StatusItem(TypedDict):
    """One status to set. `status` is a word (`revoked`, `suspended`, `unsuspended`/`active`) or,
    with `statusPurpose`, the bit value (`"1"`/`"0"`, true/false)."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    type: NotRequired[Literal["BitstringStatusListEntry", "BitstringStatusListCredential"]]
    status: str | bool
    statusPurpose: NotRequired[Purpose]


class StatusUpdate(TypedDict):
    """VC-API "update status" (`credentialId`, `credentialStatus`), plus credstream's audit fields:
    `reasonCode` (default `unspecified`), `reason`, `requestId` (idempotency key: a retried request
    id is applied once), `issuerId` (when given, the credential must be this issuer's)."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    credentialId: Annotated[str, Field(min_length=1, max_length=512)]
    credentialStatus: Annotated[list[StatusItem], Field(min_length=1, max_length=2)]
    reasonCode: NotRequired[Annotated[str, Field(min_length=1, max_length=64)]]
    reason: NotRequired[Annotated[str, Field(max_length=2000)] | None]
    requestId: NotRequired[Annotated[str, Field(min_length=1, max_length=512)]]
    issuerId: NotRequired[Annotated[str, Field(min_length=1, max_length=512)]]


class BulkUpdate(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    updates: Annotated[list[StatusUpdate], Field(min_length=1)]


_SINGLE = TypeAdapter(StatusUpdate)
_BULK = TypeAdapter(BulkUpdate)


def _body(schema: TypeAdapter[Any]) -> dict[str, Any]:
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema.json_schema()}}}
    }


async def _parse(request: Request, schema: TypeAdapter[Any]) -> Any:
    if "json" not in request.headers.get("content-type", ""):
        raise Problem(415, "Unsupported media type", "send application/json")
    try:
        return schema.validate_json(await request.body())
    except ValidationError as error:
        first = error.errors(include_url=False)[:5]
        detail = "; ".join(f"{'/'.join(map(str, e['loc']))}: {e['msg']}" for e in first)
        raise Problem(400, "Invalid request body", detail, reason="body_invalid") from error


def _purpose_and_bit(item: StatusItem) -> tuple[Purpose, bool]:
    status, purpose = item["status"], item.get("statusPurpose")
    if purpose is None:
        if not isinstance(status, str) or status not in _STATUS_WORDS:
            raise Problem(
                400,
                "Invalid status",
                f"status must be one of {sorted(_STATUS_WORDS)} when statusPurpose is not given",
                reason="status_invalid",
            )
        return _STATUS_WORDS[status]
    if status in (True, "1", "true"):
        return purpose, True
    if status in (False, "0", "false"):
        return purpose, False
    raise Problem(400, "Invalid status", 'with statusPurpose, status is "1" or "0"', reason="status_invalid")


def _requests(update: StatusUpdate, caller: Principal, default_id: str) -> list[ChangeRequest]:
    """The change requests of one update; an issuer principal's are bound to its issuer, so the
    service refuses them for a credential of another issuer even if one appeared meanwhile."""
    items = update["credentialStatus"]
    base = update.get("requestId") or default_id
    return [
        ChangeRequest(
            request_id=f"{base}:{purpose}" if len(items) > 1 else base,
            credential_id=update["credentialId"],
            purpose=purpose,
            set=bit,
            reason_code=update.get("reasonCode", "unspecified"),
            reason=update.get("reason"),
            actor=caller.id,
            channel="http",
            issuer_id=update.get("issuerId") or caller.issuer_id,
        )
        for purpose, bit in map(_purpose_and_bit, items)
    ]


def create_http(
    settings: Settings, pool: asyncpg.Pool, ready: ReadinessCheck, context: ContextFactory
) -> FastAPI:
    app = FastAPI(
        title="credstream revocation",
        version="1.0.0",
        description="Bitstring Status Lists: publication, status updates (VC-API shaped), audit.",
    )
    install_problem_handlers(app)
    app.include_router(health_router(ready))
    guards = http_guards(settings)
    app.include_router(lists_router(settings, pool, guards))
    app.include_router(status_router(settings, pool, context, guards))
    return app


def lists_router(settings: Settings, pool: asyncpg.Pool, guards: HttpGuards) -> APIRouter:
    """The published status list credentials: public, cached, conditional GETs."""
    router = APIRouter(tags=["status lists"])
    # Published lists kept in memory for SERVED_CACHE_S: a GET (or a 304) needs no database
    # round trip; a re-published list is served at most that much later (well within any ttl).
    served: dict[tuple[str, str, int], tuple[float, Published]] = {}

    @router.get(
        "/status-lists/{issuer_id}/{purpose}/{seq}",
        response_model=None,
        dependencies=[Depends(guards.public)],
    )
    async def status_list(
        issuer_id: str,
        purpose: Purpose,
        # The list number is a PostgreSQL integer: a larger one is a 400, not a failed query (500).
        seq: Annotated[int, Path(ge=0, le=2**31 - 1)],
        if_none_match: Annotated[str | None, Header()] = None,
    ) -> Response:
        key = (issuer_id, purpose, seq)
        cached = served.get(key)
        if cached is not None and cached[0] > time.monotonic():
            published: Published | None = cached[1]
        else:
            async with acquire(pool) as conn:
                published = await RevocationRepository(conn).published(issuer_id, purpose, seq)
            if published is not None:
                if len(served) > 10_000:
                    served.clear()
                served[key] = (time.monotonic() + SERVED_CACHE_S, published)
        if published is None:
            raise Problem(404, "Not found", f"no published {purpose} list {seq} for issuer {issuer_id}")
        headers = {
            "ETag": published.etag,
            "Cache-Control": f"public, max-age={settings.list_ttl_s}",
            "Last-Modified": published.published_at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        }
        tags = {t.strip() for t in (if_none_match or "").split(",")}
        if "*" in tags or published.etag in tags:
            return Response(status_code=304, headers=headers)
        return Response(published.body, media_type=VC_MEDIA_TYPE, headers=headers)

    return router


def status_router(
    settings: Settings, pool: asyncpg.Pool, context: ContextFactory, guards: HttpGuards
) -> APIRouter:
    """Status updates (VC-API shaped), a credential's status with its audit, an issuer's lists."""
    router = APIRouter(tags=["status"])
    admin = guards.principal("operator", "issuer")

    async def check_tenancy(caller: Principal, updates: list[StatusUpdate]) -> None:
        """Before anything is written: an issuer principal names only its own issuer and changes
        only its own issuer's credentials (an unknown credential is refused later, as 404)."""
        if caller.is_operator:
            return
        for update in updates:
            if "issuerId" in update:
                forbid_unless(caller, update["issuerId"], f"issuer {update['issuerId']}")
        async with acquire(pool) as conn:
            owners = await RevocationRepository(conn).issuers_of(u["credentialId"] for u in updates)
        for credential_id, owner in owners.items():
            forbid_unless(caller, owner, f"credential {credential_id}")

    async def apply(requests: list[ChangeRequest], *, fresh_ids: bool) -> list[ChangeOutcome]:
        async with transaction(pool) as conn:
            return await service.apply_changes(
                requests,
                repo=RevocationRepository(conn),
                ctx=context(conn),
                park_unknown=False,
                fresh_ids=fresh_ids,
            )

    @router.post("/credentials/status", openapi_extra=_body(_SINGLE))
    async def update_status(request: Request, caller: Principal = Depends(admin)) -> dict[str, Any]:
        update: StatusUpdate = await _parse(request, _SINGLE)
        await check_tenancy(caller, [update])
        outcomes = await apply(
            _requests(update, caller, str(uuid.uuid4())), fresh_ids="requestId" not in update
        )
        refused = [o for o in outcomes if o.outcome == "refused"]
        if refused:
            first = refused[0]
            status = 404 if first.refusal == "credential_unknown" else 409
            titles = {
                "credential_unknown": "Credential unknown",
                "revocation_is_final": "Revocation is final",
                "credential_of_another_issuer": "Credential of another issuer",
                "request_id_reused": "Request id reused for another change",
            }
            raise Problem(
                status,
                titles.get(first.refusal or "", "Refused"),
                f"{first.credential_id}: {first.refusal}"
                + (
                    " (a revoked credential cannot be reinstated)"
                    if first.refusal == "revocation_is_final"
                    else ""
                ),
                reason=first.refusal,
            )
        return {"credentialId": update["credentialId"], "results": [o.as_json() for o in outcomes]}

    @router.post("/credentials/status/bulk", openapi_extra=_body(_BULK))
    async def bulk_update(request: Request, caller: Principal = Depends(admin)) -> dict[str, Any]:
        bulk: BulkUpdate = await _parse(request, _BULK)
        updates = bulk["updates"]
        if len(updates) > settings.bulk_limit:
            raise Problem(413, "Too many updates", f"at most {settings.bulk_limit} updates per request")
        await check_tenancy(caller, updates)
        batch = uuid.uuid4()  # server-made request ids: this batch's id and the update's position
        requests = [r for n, u in enumerate(updates) for r in _requests(u, caller, f"{batch}:{n}")]
        outcomes = await apply(requests, fresh_ids=not any("requestId" in u for u in updates))
        summary: dict[str, int] = {}
        for o in outcomes:
            summary[o.outcome] = summary.get(o.outcome, 0) + 1
        return {
            "summary": summary,
            "results": [o.as_json() for o in outcomes if o.outcome != "applied"],
        }

    @router.get("/credentials/status/{credential_id:path}")
    async def credential_status(credential_id: str, caller: Principal = Depends(admin)) -> dict[str, Any]:
        async with acquire(pool) as conn:
            repo = RevocationRepository(conn)
            entries = await repo.entries_of([credential_id])
            if not entries:
                raise Problem(404, "Not found", f"no status entries known for {credential_id}")
            issuer = next(iter(entries.values())).issuer_id
            not_found_for(caller, issuer, f"status entries known for {credential_id}")
            lists = await repo.lists_by_id(e.list_id for e in entries.values())
            audit = await repo.audit_of(credential_id)
        status = {}
        for (_, purpose), entry in entries.items():
            status_list = lists[entry.list_id]
            status[purpose] = {
                "set": Bitstring(data=status_list.bits).get(entry.idx),
                "statusListCredential": status_list.url,
                "statusListIndex": str(entry.idx),
            }
        return {"credentialId": credential_id, "status": status, "audit": audit}

    @router.get("/admin/issuers/{issuer_id}/status-lists")
    async def issuer_lists(issuer_id: str, caller: Principal = Depends(admin)) -> list[dict[str, Any]]:
        not_found_for(caller, issuer_id, f"issuer {issuer_id}")
        async with acquire(pool) as conn:
            return [dict(r) for r in await RevocationRepository(conn).lists_of_issuer(issuer_id)]

    return router
