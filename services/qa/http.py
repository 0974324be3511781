"""HTTP API of the QA service: the operator's agency register (admin) and the public register.

Public, read-only, JSON, rate-limited per client address: agencies, current attestations per
issuer and per achievement, every attestation with its history and endorsement, and a small human
page at `/register`. Admin (services/runtime/auth.py): only an operator registers agencies; the
submission audit is the operator's (all) or an agency principal's (its own submissions only).
"""

from __future__ import annotations

import html
from typing import Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Response
from fastapi.responses import HTMLResponse

from services.qa import service
from services.qa.domain import Agency, Attestation, QaRejected, Slug
from services.qa.repository import QaRepository
from services.qa.settings import Settings
from services.runtime.auth import HttpGuards, Principal, http_guards
from services.runtime.db import acquire, transaction
from services.runtime.http import (
    CREATED,
    Problem,
    ReadinessCheck,
    health_router,
    install_problem_handlers,
    put_outcome,
    resource_at,
)


def _json(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def attestation_json(a: Attestation, *, endorsement: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "attestation_id": a.attestation_id,
        "agency_id": a.agency_id,
        "subject": {"kind": a.subject_kind, "id": a.subject_id},
        "decision": a.decision,
        "scope": a.scope.as_json(),
        "standard": a.standard,
        "report_url": a.report_url,
        "valid_from": _json(a.valid_from),
        "valid_until": _json(a.valid_until),
        "status": a.status,
        "withdrawn_at": _json(a.withdrawn_at),
        "endorsement_id": a.endorsement_id,
    }
    if endorsement:
        body["endorsement"] = a.endorsement
    return body


class AgencyBody(Agency):
    """`PUT /admin/agencies/{agency_id}`: the path names the agency; the body may leave it out."""

    agency_id: Slug | None = None  # type: ignore[assignment]


def agency_json(agency: Agency) -> dict[str, Any]:
    return agency.model_dump(mode="json")


def create_http(settings: Settings, pool: asyncpg.Pool, ready: ReadinessCheck) -> FastAPI:
    app = FastAPI(
        title="credstream qa",
        version="1.0.0",
        description="The register of QA agencies and their attestations (admin and public).",
    )
    install_problem_handlers(app)
    app.include_router(health_router(ready))
    guards = http_guards(settings)
    app.include_router(admin_router(pool, guards))
    app.include_router(register_router(pool, guards))
    return app


def admin_router(pool: asyncpg.Pool, guards: HttpGuards) -> APIRouter:
    """The operator's agency register and the submission audit."""
    router = APIRouter(tags=["admin"])
    operator = [Depends(guards.principal("operator"))]
    auditor = guards.principal("operator", "agency")

    @router.put(
        "/admin/agencies/{agency_id}",
        dependencies=operator,
        status_code=200,
        responses=CREATED,
    )
    async def put_agency(agency_id: str, body: AgencyBody, response: Response) -> dict[str, Any]:
        agency = resource_at(agency_id, body, Agency, id_field="agency_id")
        try:
            async with transaction(pool) as conn:
                created = await service.register_agency(agency, repo=QaRepository(conn))
        except QaRejected as error:
            raise Problem(409, "Conflict", str(error), reason=error.reason) from error
        put_outcome(response, created=created, location=f"/admin/agencies/{agency_id}")
        return {"agency_id": agency_id, "created": created}

    @router.get("/admin/agencies/{agency_id}", dependencies=operator)
    async def get_agency(agency_id: str) -> dict[str, Any]:
        """The agency as registered, with its status (the public register shows the same)."""
        async with acquire(pool) as conn:
            found = await QaRepository(conn).get_agency(agency_id)
        if found is None:
            raise Problem(404, "Not found", f"no agency {agency_id}", reason="agency_unknown")
        return agency_json(found)

    @router.get("/admin/submissions")
    async def submissions(
        outcome: Literal["accepted", "rejected"] | None = None, caller: Principal = Depends(auditor)
    ) -> list[dict[str, Any]]:
        """The submission audit: every agency's for an operator, an agency principal's own only."""
        async with acquire(pool) as conn:
            rows = await QaRepository(conn).list_audit(outcome=outcome, agency_id=caller.agency_id)
        return [{k: _json(v) for k, v in row.items()} for row in rows]

    return router


def register_router(pool: asyncpg.Pool, guards: HttpGuards) -> APIRouter:
    """The public register: read-only, JSON (and one human page), rate-limited per client."""
    router = APIRouter(tags=["register"])
    public = [Depends(guards.public)]

    @router.get("/register/agencies", dependencies=public)
    async def agencies() -> list[dict[str, Any]]:
        async with acquire(pool) as conn:
            return [agency_json(a) for a in await QaRepository(conn).list_agencies()]

    @router.get("/register/agencies/{agency_id}", dependencies=public)
    async def agency(agency_id: str) -> dict[str, Any]:
        async with acquire(pool) as conn:
            repo = QaRepository(conn)
            found = await repo.get_agency(agency_id)
            if found is None:
                raise Problem(404, "Not found", f"no agency {agency_id}")
            made = await repo.list_attestations(
                subject_kind=None, subject_id=None, agency_id=agency_id, current=False
            )
        return {**agency_json(found), "attestations": [attestation_json(a) for a in made]}

    @router.get("/register/attestations", dependencies=public)
    async def attestations(
        issuer_id: str | None = None,
        achievement_id: str | None = None,
        include: Literal["current", "all"] = "current",
    ) -> list[dict[str, Any]]:
        """Current (active, within their validity window) attestations, or all of them."""
        if issuer_id and achievement_id:
            raise Problem(400, "Invalid request", "give issuer_id or achievement_id, not both")
        kind = "issuer" if issuer_id else "achievement" if achievement_id else None
        async with acquire(pool) as conn:
            found = await QaRepository(conn).list_attestations(
                subject_kind=kind, subject_id=issuer_id or achievement_id, agency_id=None,
                current=include == "current",
            )  # fmt: skip
        return [attestation_json(a) for a in found]

    @router.get("/register/attestations/{attestation_id:path}", dependencies=public)
    async def attestation(attestation_id: str) -> dict[str, Any]:
        async with acquire(pool) as conn:
            repo = QaRepository(conn)
            found = await repo.get_attestation(attestation_id)
            if found is None:
                raise Problem(404, "Not found", f"no attestation {attestation_id}")
            history = await repo.history(attestation_id)
        return {
            **attestation_json(found, endorsement=True),
            "history": [{k: _json(v) for k, v in h.items()} for h in history],
        }

    @router.get("/register/issuers/{issuer_id}", dependencies=public)
    async def issuer(issuer_id: str) -> dict[str, Any]:
        """An issuer as the QA register knows it: its micro-credentials and current attestations."""
        async with acquire(pool) as conn:
            repo = QaRepository(conn)
            achievements = await repo.known_achievements(issuer_id=issuer_id)
            if not achievements:
                raise Problem(404, "Not found", f"no issuer {issuer_id} with a defined micro-credential")
            current = await repo.list_attestations(
                subject_kind="issuer", subject_id=issuer_id, agency_id=None, current=True
            )
        return {
            "issuer_id": issuer_id,
            "achievements": achievements,
            "attestations": [attestation_json(a) for a in current],
        }

    @router.get("/register/achievements/{achievement_id}", dependencies=public)
    async def achievement(achievement_id: str) -> dict[str, Any]:
        """A micro-credential and the current attestations that cover it: its own (programme
        level) and its issuer's (institutional)."""
        async with acquire(pool) as conn:
            repo = QaRepository(conn)
            known = await repo.known_achievements(achievement_id=achievement_id)
            if not known:
                raise Problem(404, "Not found", f"no achievement {achievement_id}")
            own = await repo.list_attestations(
                subject_kind="achievement", subject_id=achievement_id, agency_id=None, current=True
            )
            institutional = await repo.list_attestations(
                subject_kind="issuer", subject_id=known[0]["issuer_id"], agency_id=None, current=True
            )
        return {**known[0], "attestations": [attestation_json(a) for a in own + institutional]}

    @router.get("/register", response_class=HTMLResponse, dependencies=public)
    async def page() -> str:
        async with acquire(pool) as conn:
            repo = QaRepository(conn)
            known = {a.agency_id: a for a in await repo.list_agencies()}
            current = await repo.list_attestations(
                subject_kind=None, subject_id=None, agency_id=None, current=True
            )
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
                known[a.agency_id].name if a.agency_id in known else a.agency_id,
                f"{a.subject_kind} {a.subject_id}", a.decision, a.standard,
                a.valid_until.date() if a.valid_until else "open-ended", a.report_url or "",
            )) + "</tr>"
            for a in current
        )  # fmt: skip
        return (
            "<!doctype html><html lang=en><meta charset=utf-8><title>credstream QA register</title>"
            "<h1>Current quality-assurance attestations</h1><table><tr><th>agency</th><th>subject</th>"
            f"<th>decision</th><th>standard</th><th>valid until</th><th>report</th></tr>{rows}</table>"
        )

    return router
