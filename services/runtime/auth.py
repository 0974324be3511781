"""Who is calling: per-principal bearer tokens for every service's HTTP API (docs/http-security.md).

A principal is declared once (`deploy/config/http-principals.json`, or inline JSON) with its role
and scope and the SHA-256 of its token; the plain token is never stored by a service. Roles:

- `operator`: the platform administrator, may act for every issuer;
- `issuer`: one issuer's administrator (`issuer_id`), may act only for that issuer;
- `agency`: one QA agency (`agency_id`), may read its own submissions;
- `service`: another credstream service (revocation asks issuance to sign status lists).

LMS ingest keeps its per-LMS tokens (services/assessment/lms.py). The tenancy rule every handler
applies *before* touching data (`Principal.may_act_for`): a private read of another issuer's
resource answers 404 (its existence is not revealed) and a write for another issuer answers 403.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Header
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.runtime.config import ServiceSettings
from services.runtime.http import Problem
from services.runtime.ratelimit import PublicGuard, TokenBucketLimiter, public_dependency

Role = Literal["operator", "issuer", "agency", "service"]

MIN_TOKEN_CHARS = 16


def token_digest(token: str) -> str:
    """The stored form of a token: hex SHA-256. Tokens are long random strings (at least 128 bits
    from the runner), so an unsalted fast hash is enough: there is nothing to brute-force."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Principal(BaseModel):
    """One caller of the HTTP APIs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=128)
    role: Role
    issuer_id: str | None = None
    agency_id: str | None = None
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", repr=False)

    @model_validator(mode="after")
    def _scoped(self) -> Principal:
        if self.role == "issuer" and not self.issuer_id:
            raise ValueError(f"principal {self.id}: an issuer principal names its issuer_id")
        if self.role == "agency" and not self.agency_id:
            raise ValueError(f"principal {self.id}: an agency principal names its agency_id")
        if self.role != "issuer" and self.issuer_id:
            raise ValueError(f"principal {self.id}: only an issuer principal has an issuer_id")
        return self

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    def may_act_for(self, issuer_id: str | None) -> bool:
        """The tenancy rule: operators act for every issuer, an issuer principal for its own."""
        return self.is_operator or (
            self.role == "issuer" and issuer_id is not None and issuer_id == self.issuer_id
        )


class PrincipalDirectory:
    """The configured principals, looked up by the digest of the presented token."""

    def __init__(self, principals: Iterable[Principal]) -> None:
        self.principals = list(principals)
        self._by_digest: dict[str, Principal] = {}
        for p in self.principals:
            if p.token_sha256 in self._by_digest:
                raise ValueError(f"principals {self._by_digest[p.token_sha256].id} and {p.id} share a token")
            self._by_digest[p.token_sha256] = p
        if len({p.id for p in self.principals}) != len(self.principals):
            raise ValueError("principal ids must be unique")

    @classmethod
    def load(cls, *, path: Path | None, inline: str | None) -> PrincipalDirectory:
        """From inline JSON (wins) or a file: `{"principals": [{id, role, issuer_id?, agency_id?,
        token_sha256}]}`. Neither configured: no principal, so every protected call is refused."""
        if inline:
            raw = json.loads(inline)
        elif path is not None:
            raw = json.loads(path.read_text())
        else:
            return cls([])
        return cls(Principal.model_validate(p) for p in raw.get("principals", []))

    def by_token(self, token: str) -> Principal | None:
        # A dict lookup on the digest: timing reveals at most bits of a hash, never of the token.
        return self._by_digest.get(token_digest(token))


RequirePrincipal = Callable[..., Awaitable[Principal]]


def principal_dependency(directory: PrincipalDirectory, *roles: Role) -> RequirePrincipal:
    """A FastAPI dependency resolving the caller: 401 (with `WWW-Authenticate`) without a bearer
    token or with one no principal has, 403 for a principal whose role may not call the route."""
    allowed = set(roles)

    async def require(authorization: Annotated[str | None, Header()] = None) -> Principal:
        challenge = {"WWW-Authenticate": 'Bearer realm="credstream"'}
        if not authorization:
            raise Problem(
                401,
                "Unauthenticated",
                "an `Authorization: Bearer <token>` header is required",
                headers=challenge,
            )
        scheme, _, token = authorization.partition(" ")
        principal = directory.by_token(token.strip()) if scheme.lower() == "bearer" else None
        if principal is None:
            raise Problem(401, "Unauthenticated", "the bearer token is not valid", headers=challenge)
        if principal.role not in allowed:
            raise Problem(
                403,
                "Forbidden",
                f"a {principal.role} principal may not call this endpoint",
                reason="role_forbidden",
            )
        return principal

    require.credstream_roles = tuple(sorted(allowed))  # type: ignore[attr-defined]
    return require


def not_found_for(principal: Principal, issuer_id: str | None, what: str) -> None:
    """Private reads: another issuer's resource is answered exactly like a missing one."""
    if not principal.may_act_for(issuer_id):
        raise Problem(404, "Not found", f"no {what}")


def forbid_unless(principal: Principal, issuer_id: str | None, what: str) -> None:
    """Writes: acting for another issuer is refused with 403 before anything is touched."""
    if not principal.may_act_for(issuer_id):
        raise Problem(
            403, "Forbidden", f"principal {principal.id} may not act for {what}", reason="tenant_forbidden"
        )


@dataclass(frozen=True)
class HttpGuards:
    """What a service's routes depend on, built once from its settings by `create_http`: the
    principals (protected routes) and the rate limit (public routes)."""

    directory: PrincipalDirectory
    public: PublicGuard

    def principal(self, *roles: Role) -> RequirePrincipal:
        return principal_dependency(self.directory, *roles)


def http_guards(settings: ServiceSettings) -> HttpGuards:
    return HttpGuards(
        directory=PrincipalDirectory.load(
            path=settings.http_principals_file, inline=settings.http_principals
        ),
        public=public_dependency(TokenBucketLimiter(settings.public_rate_per_s, settings.public_burst)),
    )
