"""HTTP pieces every service shares: health endpoints and RFC 9457 problem+json errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.runtime.errors import UNSTORABLE_TEXT

PROBLEM_JSON = "application/problem+json"


ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]

M = TypeVar("M", bound=BaseModel)


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


def _invalid(errors: list[Any], *, where: tuple[str, ...] = ()) -> Problem:
    """400 problem for pydantic errors: every error's location, type and message (at most 20)."""
    listed = [
        {"loc": [*where, *e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in errors[:20]
    ]
    detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in listed[:5])
    return Problem(400, "Invalid request", detail, errors=listed)


def resource_at(path_id: str, body: BaseModel, model: type[M], *, id_field: str) -> M:
    """The resource a `PUT /…/{id}` body describes, its id taken from the path.

    RFC 9110 s9.3.4: the target URI names the resource a PUT replaces, so the body need not repeat
    the id. A body that does repeat it must agree: naming another resource at this URI is a
    conflict with the target's state (409), never a silent move of the resource.
    """
    given = getattr(body, id_field, None)
    if given is not None and given != path_id:
        raise Problem(
            409,
            "Id differs from the path",
            f"{id_field} {given!r} in the body is not the resource the path names ({path_id!r})",
            reason="id_mismatch",
        )
    try:
        return model.model_validate({**body.model_dump(), id_field: path_id})
    except ValidationError as error:  # the path's id breaks the model (e.g. not a slug)
        raise _invalid(list(error.errors()), where=("path",)) from None


CREATED: dict[int | str, dict[str, Any]] = {201: {"description": "Created (`Location` names it)"}}
"""OpenAPI `responses` of a PUT that may create: 200 is its declared status, 201 the other."""


def put_outcome(response: Response, *, created: bool, location: str) -> None:
    """RFC 9110 s9.3.4: 201 Created with `Location` when the PUT made the resource, 200 when it
    replaced a current one."""
    response.status_code = 201 if created else 200
    if created:
        response.headers["Location"] = location


def install_problem_handlers(app: FastAPI) -> None:
    """Every error a service's HTTP API returns is problem+json with a precise detail."""

    async def on_problem(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(
            exc.status, exc.title, exc.detail, type_=exc.type, headers=exc.headers, **exc.extra
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return await on_problem(request, _invalid(list(exc.errors())))

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
