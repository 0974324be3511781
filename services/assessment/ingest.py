"""HTTP ingest for LMSs: xAPI statements, Caliper envelopes and LTI AGS scores.

Each request is authenticated by its LMS's bearer token (401 without one or with a token no
LMS has), checked for its media type (415), normalised by the same adapter as the Kafka topic
(400 problem+json with the reason code) and recorded in one transaction with the same result ids
as the Kafka path, so an HTTP re-send, or the same result arriving over both, is one result.
The answer comes after the commit: 200 means stored (or already stored), never "maybe".
"""

# No `from __future__ import annotations` here: FastAPI must evaluate the `Lms` dependency
# annotation, which names a closure variable, when the routes are defined.
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Header, Query, Request, Response

from services.assessment import service
from services.assessment.adapters import caliper, lti, xapi
from services.assessment.adapters.common import Normalised
from services.assessment.domain import IngestRejected
from services.assessment.lms import LmsDirectory, LmsProfile
from services.assessment.repository import AssessmentRepository
from services.runtime.db import transaction
from services.runtime.http import Problem
from services.runtime.outbox import Publisher

XAPI_VERSION = "1.0.3"
LTI_SCORE_MEDIA_TYPE = "application/vnd.ims.lis.v1.score+json"
PROBLEM_BASE = "urn:credstream:problem:ingest:"


def ingest_router(directory: LmsDirectory, pool: asyncpg.Pool, *, publisher: Publisher) -> APIRouter:
    router = APIRouter(tags=["LMS ingest"])

    async def require_lms(authorization: Annotated[str | None, Header()] = None) -> LmsProfile:
        challenge = {"WWW-Authenticate": 'Bearer realm="credstream"'}
        if not authorization:
            raise Problem(
                401, "Unauthenticated", "an `Authorization: Bearer <LMS token>` header is required",
                headers=challenge,
            )  # fmt: skip
        scheme, _, token = authorization.partition(" ")
        lms = directory.by_token(token.strip()) if scheme.lower() == "bearer" else None
        if lms is None:
            # The same answer as every other service for a token nobody has (RFC 6750 invalid_token).
            raise Problem(
                401, "Unauthenticated", "the bearer token is not the token of a configured LMS",
                headers=challenge,
            )  # fmt: skip
        return lms

    require_lms.credstream_roles = ("lms",)  # type: ignore[attr-defined]

    Lms = Annotated[LmsProfile, Depends(require_lms)]

    async def record(lms: LmsProfile, results: list[Normalised]) -> list[str]:
        async with transaction(pool) as conn:
            return await service.record_normalised(
                results,
                lms_id=lms.lms_id,
                repo=AssessmentRepository(conn),
                outbox=publisher.bind(conn),
            )

    @router.post("/xapi/statements", summary="Store xAPI statements (one, or an array)")
    async def post_statements(
        request: Request,
        lms: Lms,
        x_experience_api_version: Annotated[str | None, Header()] = None,
    ) -> list[str]:
        # xAPI-Communication.md 3.3 / 2.0: every request carries X-Experience-API-Version; the
        # LRS refuses a missing or unsupported one with 400 and names its version in every
        # response (`xapi_version_header`, errors included).
        if x_experience_api_version is None:
            raise _invalid("version_missing", "the X-Experience-API-Version header is required")
        if not xapi.SUPPORTED_VERSIONS.match(x_experience_api_version.strip()):
            raise _invalid(
                "version_unsupported",
                f"X-Experience-API-Version {x_experience_api_version[:20]!r} is not 1.0.x or 2.0.x",
            )
        body = await _json_body(request, ("application/json",))
        statements = body if isinstance(body, list) else [body]
        if not statements:
            raise _invalid("missing_field", "the array holds no statement")
        received = datetime.now(UTC)
        # The whole batch is refused if one statement is invalid (xAPI: an LRS stores all or none).
        results: list[Normalised] = []
        for i, statement in enumerate(statements):
            where = f"statement[{i}]" if isinstance(body, list) else "statement"
            results.append(
                _adapt(where, partial(xapi.statement_to_result, statement, lms, received_at=received))
            )
        await record(lms, results)
        return [n.result.result_id.removeprefix("xapi:") for n in results]

    @router.post("/caliper", summary="Receive an IMS Caliper 1.1/1.2 envelope")
    async def post_caliper(request: Request, lms: Lms) -> dict[str, Any]:
        body = await _json_body(request, ("application/json",))
        results = _adapt("envelope", lambda: caliper.envelope_to_results(body, lms))
        earned = await record(lms, results)
        return {"grade_events": len(results), "earned": len(earned)}

    @router.post("/lti/scores", summary="Receive an LTI AGS 2.0 score for a line item")
    async def post_score(
        request: Request,
        response: Response,
        lms: Lms,
        lineitem: Annotated[str, Query(description="The line item (activity) the score is for.")],
    ) -> dict[str, Any]:
        body = await _json_body(request, (LTI_SCORE_MEDIA_TYPE, "application/json"))
        found = _adapt("score", lambda: lti.score_to_result(body, lms, line_item=lineitem))
        if found is None:
            response.status_code = 202
            return {"status": "not_final", "detail": "only gradingProgress FullyGraded is recorded"}
        earned = await record(lms, [found])
        return {"status": "recorded", "result_id": found.result.result_id, "earned": len(earned)}

    return router


async def xapi_version_header(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """HTTP middleware: every response under /xapi/ names the xAPI version spoken, errors too."""
    response = await call_next(request)
    if request.url.path.startswith("/xapi/"):
        response.headers["X-Experience-API-Version"] = XAPI_VERSION
    return response


async def _json_body(request: Request, media_types: tuple[str, ...]) -> Any:
    given = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if given not in media_types:
        raise Problem(
            415,
            "Unsupported media type",
            f"content type {given[:100]!r} is not {' or '.join(media_types)}",
            type_=PROBLEM_BASE + "content_type_unsupported",
            reason="content_type_unsupported",
        )
    raw = await request.body()  # bounded by the runtime's BodyLimit (HTTP_MAX_BODY_BYTES, 1 MiB)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _invalid("malformed_json", f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        # Python's JSON decoder recurses per nesting level; a body nested deeper than the
        # interpreter's limit (about 1,000 levels) is the client's error, never a 500. No LMS
        # payload (xAPI, Caliper, LTI) nests anywhere near that.
        raise _invalid("malformed_json", "the body is nested too deeply to be read as JSON") from None


def _adapt(what: str, adapt: Callable[[], Any]) -> Any:
    try:
        return adapt()
    except IngestRejected as exc:
        raise _invalid(exc.reason, f"{what}: {exc}") from None


def _invalid(reason: str, detail: str) -> Problem:
    return Problem(400, "Invalid payload", detail, type_=PROBLEM_BASE + reason, reason=reason)
