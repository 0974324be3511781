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


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` is refused with 413 problem+json before
    the app reads it. A declared `Content-Length` is checked up front; a body without one
    (chunked) is read up to the bound and then handed to the app, or refused the moment it
    passes the bound, so no route ever holds more than `max_bytes` of a client's body."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                await self._refuse(send, declared.decode("latin-1")[:20])
                return
            await self.app(scope, receive, send)
            return
        if b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._refuse(send, f"more than {size}")
                return
            if not message.get("more_body", False):
                break
        body, sent = b"".join(chunks), False

        async def replay() -> Any:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any, size: str) -> None:
        detail = f"the body ({size} bytes) is over this service's {self.max_bytes} bytes"
        response = problem_response(413, "Payload too large", detail, reason="payload_too_large")
        await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


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
        # Keep the exception's headers: a 405 names the allowed methods (RFC 9110 s15.5.6).
        return problem_response(
            exc.status_code, str(exc.detail), str(exc.detail), headers=dict(exc.headers or {})
        )

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
