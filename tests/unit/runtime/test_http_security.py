"""Principals and the public rate limit, through a real FastAPI app (in memory)."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import ValidationError

from services.runtime.auth import Principal, PrincipalDirectory, principal_dependency, token_digest
from services.runtime.http import install_problem_handlers
from services.runtime.ratelimit import TokenBucketLimiter, public_dependency

OPERATOR, ISSUER = "operator-token-0123456789abcdef", "issuer-token-0123456789abcdef"


def _directory() -> PrincipalDirectory:
    return PrincipalDirectory.load(
        path=None,
        inline=json.dumps(
            {
                "principals": [
                    {"id": "op", "role": "operator", "token_sha256": token_digest(OPERATOR)},
                    {"id": "uni", "role": "issuer", "issuer_id": "uni", "token_sha256": token_digest(ISSUER)},
                ]
            }
        ),
    )


def _app(limiter: TokenBucketLimiter | None = None) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    admin = principal_dependency(_directory(), "operator")
    either = principal_dependency(_directory(), "operator", "issuer")

    @app.get("/admin")
    async def admin_only(caller: Principal = Depends(admin)) -> dict[str, str]:
        return {"id": caller.id}

    @app.get("/mine/{issuer_id}")
    async def mine(issuer_id: str, caller: Principal = Depends(either)) -> dict[str, bool]:
        return {"may": caller.may_act_for(issuer_id)}

    if limiter is not None:

        @app.get("/public", dependencies=[Depends(public_dependency(limiter))])
        async def public() -> dict[str, str]:
            return {"ok": "yes"}

    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_tokens_resolve_to_principals_with_401_and_403_as_problems() -> None:
    async with _client(_app()) as client:
        missing = await client.get("/admin")
        assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
        assert missing.headers["content-type"] == "application/problem+json"
        assert (await client.get("/admin", headers=_bearer("not-a-token"))).status_code == 401
        assert (await client.get("/admin", headers={"Authorization": f"Basic {OPERATOR}"})).status_code == 401
        role = await client.get("/admin", headers=_bearer(ISSUER))
        assert role.status_code == 403 and role.json()["reason"] == "role_forbidden"
        assert (await client.get("/admin", headers=_bearer(OPERATOR))).json() == {"id": "op"}
        assert (await client.get("/mine/uni", headers=_bearer(ISSUER))).json() == {"may": True}
        assert (await client.get("/mine/other", headers=_bearer(ISSUER))).json() == {"may": False}
        assert (await client.get("/mine/other", headers=_bearer(OPERATOR))).json() == {"may": True}


def test_the_directory_stores_digests_only_and_refuses_ambiguity() -> None:
    directory = _directory()
    assert all(OPERATOR not in p.model_dump_json() for p in directory.principals)
    assert OPERATOR not in repr(directory.principals)
    op = directory.principals[0]
    with pytest.raises(ValueError, match="share a token"):
        PrincipalDirectory([op, op.model_copy(update={"id": "other"})])
    with pytest.raises(ValueError, match="unique"):
        PrincipalDirectory([op, op.model_copy(update={"token_sha256": token_digest("x" * 20)})])
    with pytest.raises(ValidationError, match="issuer_id"):
        Principal(id="x", role="issuer", token_sha256=token_digest("t" * 20))
    with pytest.raises(ValidationError):
        Principal(id="x", role="operator", token_sha256="plain-token-not-a-digest")
    assert PrincipalDirectory.load(path=None, inline=None).by_token(OPERATOR) is None


def test_the_bucket_allows_a_burst_then_the_rate() -> None:
    limiter = TokenBucketLimiter(rate_per_s=2.0, burst=3)
    assert [limiter.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a", now=0.0) == pytest.approx(0.5)
    assert limiter.take("b", now=0.0) == 0.0  # per client
    assert limiter.take("a", now=0.5) == 0.0  # one token back after 1/rate s
    assert TokenBucketLimiter(rate_per_s=0, burst=1).take("a", now=0.0) == 0.0  # off


def test_the_bucket_table_is_bounded() -> None:
    limiter = TokenBucketLimiter(rate_per_s=1.0, burst=1, max_clients=100)
    for n in range(1000):
        limiter.take(f"10.0.{n // 256}.{n % 256}", now=0.0)
    assert len(limiter._buckets) == 100


async def test_public_routes_answer_429_with_retry_after_when_the_bucket_is_empty() -> None:
    async with _client(_app(TokenBucketLimiter(rate_per_s=0.5, burst=2))) as client:
        assert [(await client.get("/public")).status_code for _ in range(2)] == [200, 200]
        limited = await client.get("/public")
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert limited.json()["reason"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 2
