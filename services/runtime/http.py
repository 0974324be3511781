"""HTTP pieces every service shares: health endpoints and RFC 9457 problem+json errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.runtime.errors import UNSTORABLE_TEXT

PROBLEM_JSON = "application/problem+json"


ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]


class Problem(Exception):
    """An HTTP error answered as `application/problem+json` (RFC 9457)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.headers = headers or {}
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        self.extra = extra


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {"type": type_, "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Every error a service's HTTP API returns is problem+json with a precise detail."""

    async def on_problem(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(
            exc.status, exc.title, exc.detail, type_=exc.type, headers=exc.headers, **exc.extra
        )

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()[:20]
        ]
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
        return problem_response(400, "Invalid request", detail, errors=errors)

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(exc.status_code, str(exc.detail), str(exc.detail))

    async def on_unstorable_text(_: Request, exc: Exception) -> JSONResponse:
        # PostgreSQL text cannot hold NUL (and the server refuses invalid code points); such a
        # value in a path, query or body is the caller's error, found only when a query binds it.
        return problem_response(
            400,
            "Invalid request",
            f"a text value cannot be stored or looked up: {exc}",
            reason="invalid_text",
        )

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    for unstorable in UNSTORABLE_TEXT:
        app.add_exception_handler(unstorable, on_unstorable_text)


def health_router(ready: ReadinessCheck) -> APIRouter:
    """`/health/live` (the process answers) and `/health/ready` (its dependencies work)."""
    router = APIRouter(tags=["health"])

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/health/ready", response_model=None)
    async def readiness() -> JSONResponse:
        checks = await ready()
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    return router
