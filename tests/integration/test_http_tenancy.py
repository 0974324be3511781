"""Tenant isolation on every protected HTTP endpoint of the four services, on the real stack.

The route table is read from the FastAPI apps themselves: every route is either public (it carries
the rate-limit dependency), protected (it resolves a principal or an LMS), or health. A protected
route without a case in CASES fails `test_tenancy`, so a new endpoint cannot ship untested. For
each protected route: no token → 401; a token of the wrong tenant (issuer B on issuer A's
resource) → 403 for a write, 404 for a private read (or absent from a list); the right tenant →
success. The rule is in docs/http-security.md.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from fastapi.routing import APIRoute

from contracts.topics import ACHIEVEMENTS_EARNED, CREDENTIALS_ISSUED
from deploy.local.runner import ROOT, Stack
from deploy.tools.publish import publish_event
from services.assessment.app import create_app as create_assessment
from services.assessment.http import create_http as assessment_http
from services.assessment.settings import Settings as AssessmentSettings
from services.issuance.app import create_app as create_issuance
from services.issuance.fetch_guard import FetchPolicy
from services.issuance.http import create_http as issuance_http
from services.issuance.settings import Settings as IssuanceSettings
from services.qa.app import create_app as create_qa
from services.qa.http import create_http as qa_http
from services.qa.settings import Settings as QaSettings
from services.revocation.app import create_app as create_revocation
from services.revocation.http import create_http as revocation_http
from services.revocation.settings import Settings as RevocationSettings
from services.runtime.auth import token_digest
from services.runtime.outbox import Publisher
from services.runtime.process import ServiceHost
from tests.fixtures.assessment import assessment_settings
from tests.fixtures.issuance import IssuerScenario, issuance_settings
from tests.fixtures.qa import qa_settings
from tests.fixtures.revocation import revocation_settings
from tests.fixtures.tokens import OPERATOR, stack_tokens
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration

SERVICES = ("assessment", "issuance", "qa", "revocation")
HEALTH = {"/health/live", "/health/ready"}
LMS_CONFIG = ROOT / "deploy" / "config" / "lms.json"


# -- the route table, from the apps ---------------------------------------------------------


def _apps() -> dict[str, FastAPI]:
    """The four HTTP apps as their composition roots build them (routes only: nothing runs)."""
    none: Any = None
    return {
        "assessment": assessment_http(
            AssessmentSettings(lms_config_file=LMS_CONFIG), none, none, Publisher(source="urn:test")
        ),
        "issuance": issuance_http(IssuanceSettings(), none, none, none, none, fetch_policy=FetchPolicy([])),
        "qa": qa_http(QaSettings(), none, none),
        "revocation": revocation_http(RevocationSettings(), none, none, none),
    }


def _marks(route: APIRoute) -> tuple[bool, tuple[str, ...]]:
    """(public, roles) of a route, from the dependencies it carries."""
    public, roles = False, ()
    stack = list(route.dependant.dependencies)
    while stack:
        dependant = stack.pop()
        stack.extend(dependant.dependencies)
        public = public or bool(getattr(dependant.call, "credstream_public", False))
        roles = roles or tuple(getattr(dependant.call, "credstream_roles", ()))
    return public, roles


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, also those of included routers (FastAPI >= 0.16x keeps an included router
    as one `_IncludedRouter` entry; the services include theirs without a prefix)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif (included := getattr(route, "original_router", None)) is not None:
            found.extend(_api_routes(list(included.routes)))
    return found


def _routes() -> list[tuple[str, str, str, bool, tuple[str, ...]]]:
    table = []
    for service, app in _apps().items():
        for route in _api_routes(list(app.routes)):
            public, roles = _marks(route)
            for method in sorted(route.methods or ()):
                table.append((service, method, route.path, public, roles))
    return table


ROUTES = _routes()
PROTECTED = [(s, m, p) for s, m, p, public, roles in ROUTES if roles]
PUBLIC = [(s, m, p) for s, m, p, public, roles in ROUTES if public]


def test_every_route_is_public_protected_or_health() -> None:
    for service, method, path, public, roles in ROUTES:
        assert public != bool(roles) or path in HEALTH, f"{service} {method} {path}: public={public} {roles}"
        if public:
            # Public endpoints are read-only: GETs, and verification (which computes, stores nothing).
            assert method == "GET" or (service, path) == ("issuance", "/credentials/verify"), path
    assert len(PROTECTED) >= 19 and len(PUBLIC) >= 12


# -- the world: two issuers, each with a credential ----------------------------------------


@dataclass
class Tenant:
    scenario: IssuerScenario
    token: str
    credential: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def issuer_id(self) -> str:
        return self.scenario.issuer_id


A = Tenant(IssuerScenario(), secrets.token_urlsafe(32))
B = Tenant(IssuerScenario(), secrets.token_urlsafe(32))
AGENCY_TOKEN = secrets.token_urlsafe(32)
AGENCY_X = {
    "agency_id": "agency-x",
    "did": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
    "name": "Agency X",
    "country_code": "EE",
    "standards": ["ESG 2015"],
    "public_keys": ["z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"],
}


def _principals(stack: Stack) -> str:
    declared = json.loads(stack.http_principals_file.read_text())["principals"]
    extra = [
        {"id": "tenant-a", "role": "issuer", "issuer_id": A.issuer_id, "token_sha256": token_digest(A.token)},
        {"id": "tenant-b", "role": "issuer", "issuer_id": B.issuer_id, "token_sha256": token_digest(B.token)},
        {"id": "agency-x", "role": "agency", "agency_id": "agency-x"},
    ]
    extra[2]["token_sha256"] = token_digest(AGENCY_TOKEN)
    return json.dumps({"principals": declared + extra})


@pytest.fixture(scope="module")
async def hosts(stack: Stack) -> AsyncIterator[dict[str, ServiceHost]]:
    """All four services in this process with the stack's principals plus the test tenants."""
    stack_tokens()  # the stack's principals file exists
    # A public limit low enough that the flood test below meets it whatever this machine's speed.
    common: dict[str, Any] = {
        "http_principals": _principals(stack),
        "public_rate_per_s": 20,
        "public_burst": 60,
    }
    started = {
        "revocation": await create_revocation(revocation_settings(stack, **common)),
        "issuance": await create_issuance(issuance_settings(stack, **common)),
        "qa": await create_qa(qa_settings(stack, **common)),
        "assessment": await create_assessment(
            assessment_settings(stack, lms_config_file=LMS_CONFIG, **common)
        ),
    }
    for host in started.values():
        await host.start()
    yield started
    for host in started.values():
        await host.stop()


def _url(stack: Stack, service: str) -> str:
    return f"http://127.0.0.1:{stack.ports[service]}"


@pytest.fixture(scope="module")
async def world(
    stack: Stack, hosts: dict[str, ServiceHost], producer: AIOKafkaProducer, watch_module: Any
) -> dict[str, Tenant]:
    issued = await watch_module(CREDENTIALS_ISSUED.name)
    for tenant in (A, B):
        await tenant.scenario.define(_url(stack, "issuance"))
        earned = tenant.scenario.earned(f"learner-{uuid.uuid4().hex[:8]}")
        await publish_event(
            producer, ACHIEVEMENTS_EARNED, earned, key=earned.earned_id, source="urn:test:tenancy"
        )
        [record] = await issued.wait_for(
            lambda r, e=earned.earned_id: r.json()["earned_id"] == e, count=1, timeout=60
        )
        tenant.credential = record.json()["credential"]

    async def entries_known() -> bool:
        async with httpx.AsyncClient(base_url=_url(stack, "revocation"), headers=OPERATOR) as client:
            for tenant in (A, B):
                if (await client.get(f"/credentials/status/{tenant.credential['id']}")).status_code != 200:
                    return False
        return True

    await eventually(entries_known, timeout=30, what="status entries of both credentials")
    async with httpx.AsyncClient(base_url=_url(stack, "qa"), headers=OPERATOR) as client:
        (await client.put("/admin/agencies/agency-x", json=AGENCY_X)).raise_for_status()
    return {"a": A, "b": B}


@pytest.fixture(scope="module")
async def watch_module(stack: Stack) -> AsyncIterator[Any]:
    from tests.fixtures.kafka import TopicWatcher

    watchers: list[TopicWatcher] = []

    async def start(topic: str) -> TopicWatcher:
        watcher = await TopicWatcher(stack.kafka(), topic).start()
        watchers.append(watcher)
        return watcher

    yield start
    for w in watchers:
        await w.stop()


# -- one case per protected route -------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any = None
    params: dict[str, str] | None = None
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class Case:
    """`call(tenant)` builds the request on `tenant`'s resource (A's for right and wrong callers).
    `right` and `wrong` name the callers: a tenant, `operator`, `agency` or `lms`. `wrong_status`
    is what the wrong caller gets; 200 means a list that must not show the other tenant."""

    call: Callable[[Tenant], Call]
    wrong_status: int
    right: str = "tenant"
    wrong: str = "other"
    right_status: tuple[int, ...] = (200,)
    leak: Callable[[Tenant, Any], bool] | None = None


def _cred_uuid(t: Tenant) -> str:
    return str(t.credential["id"]).removeprefix("urn:uuid:")


def _issuer_did(t: Tenant, stack_port: int) -> str:
    return f"did:web:127.0.0.1%3A{stack_port}:issuers:{t.issuer_id}"


def _suspend(t: Tenant, status: str = "suspended") -> dict[str, Any]:
    return {
        "credentialId": t.credential["id"],
        "credentialStatus": [{"status": status}],
        "reasonCode": "test",
    }


XAPI = {"X-Experience-API-Version": "1.0.3"}


def _statement() -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "mbox": f"mailto:{uuid.uuid4().hex[:8]}@learners.example"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
        "object": {"id": "https://lms.open-university.example/courses/tenancy/quiz"},
        "result": {"success": True, "score": {"scaled": 0.9}},
        "timestamp": "2026-03-01T10:00:00Z",
    }


def _caliper() -> dict[str, Any]:
    return {
        "sensor": "https://lms.open-university.example/sensor",
        "sendTime": "2026-03-01T10:05:00Z",
        "dataVersion": "http://purl.imsglobal.org/ctx/caliper/v1p2",
        "data": [],
    }


def _lti() -> dict[str, Any]:
    return {
        "userId": str(uuid.uuid4()),
        "scoreGiven": 10,
        "scoreMaximum": 100,
        "activityProgress": "InProgress",
        "gradingProgress": "Pending",
        "timestamp": "2026-03-01T10:06:00.000Z",
    }


def _cases(issuance_port: int) -> dict[tuple[str, str, str], Case]:
    def listed_issuer(t: Tenant, body: Any) -> bool:
        return any(i.get("issuer_id") == t.issuer_id for i in body)

    return {
        # issuance
        ("issuance", "PUT", "/admin/issuers/{issuer_id}"): Case(
            lambda t: Call("PUT", f"/admin/issuers/{t.issuer_id}", t.scenario.issuer()), 403
        ),
        ("issuance", "GET", "/admin/issuers/{issuer_id}"): Case(
            lambda t: Call("GET", f"/admin/issuers/{t.issuer_id}"), 404
        ),
        ("issuance", "GET", "/admin/achievements/{achievement_id}"): Case(
            lambda t: Call("GET", f"/admin/achievements/{t.scenario.achievement_id}"), 404
        ),
        ("issuance", "GET", "/admin/issuers"): Case(
            lambda t: Call("GET", "/admin/issuers"), 200, leak=listed_issuer
        ),
        ("issuance", "POST", "/admin/issuers/{issuer_id}/keys/rotate"): Case(
            lambda t: Call("POST", f"/admin/issuers/{t.issuer_id}/keys/rotate"), 403
        ),
        ("issuance", "GET", "/admin/issuers/{issuer_id}/requests"): Case(
            lambda t: Call("GET", f"/admin/issuers/{t.issuer_id}/requests"), 404
        ),
        ("issuance", "GET", "/admin/issuers/{issuer_id}/status-indexes"): Case(
            lambda t: Call("GET", f"/admin/issuers/{t.issuer_id}/status-indexes"), 404
        ),
        ("issuance", "PUT", "/admin/achievements/{achievement_id}"): Case(
            lambda t: Call(
                "PUT", f"/admin/achievements/{t.scenario.achievement_id}", t.scenario.achievement()
            ),
            403,
        ),
        ("issuance", "GET", "/admin/achievements"): Case(
            lambda t: Call("GET", "/admin/achievements", params={"issuer_id": t.issuer_id}), 404
        ),
        ("issuance", "POST", "/credentials/issue"): Case(
            lambda t: Call(
                "POST",
                "/credentials/issue",
                {
                    "credential": {
                        "@context": ["https://www.w3.org/ns/credentials/v2"],
                        "id": f"urn:uuid:{uuid.uuid4()}",
                        "type": ["VerifiableCredential"],
                        "issuer": _issuer_did(t, issuance_port),
                        "validFrom": "2026-01-01T00:00:00Z",
                        "credentialSubject": {"id": "did:example:learner"},
                    }
                },
            ),
            403,
            right_status=(201,),
        ),
        ("issuance", "GET", "/credentials/{credential_uuid:credential_uuid}"): Case(
            lambda t: Call("GET", f"/credentials/{_cred_uuid(t)}"), 404
        ),
        # revocation
        ("revocation", "POST", "/credentials/status"): Case(
            lambda t: Call("POST", "/credentials/status", _suspend(t)), 403
        ),
        ("revocation", "POST", "/credentials/status/bulk"): Case(
            lambda t: Call("POST", "/credentials/status/bulk", {"updates": [_suspend(t, "unsuspended")]}), 403
        ),
        ("revocation", "GET", "/credentials/status/{credential_id:path}"): Case(
            lambda t: Call("GET", f"/credentials/status/{t.credential['id']}"), 404
        ),
        ("revocation", "GET", "/admin/issuers/{issuer_id}/status-lists"): Case(
            lambda t: Call("GET", f"/admin/issuers/{t.issuer_id}/status-lists"), 404
        ),
        # qa: agencies are the operator's; the audit is the operator's or the agency's own
        ("qa", "PUT", "/admin/agencies/{agency_id}"): Case(
            lambda t: Call(
                "PUT",
                "/admin/agencies/agency-x",
                AGENCY_X,
            ),
            403,
            right="operator",
            wrong="tenant",
            right_status=(200, 201),
        ),
        ("qa", "GET", "/admin/agencies/{agency_id}"): Case(
            lambda t: Call("GET", "/admin/agencies/agency-x"), 403, right="operator", wrong="tenant"
        ),
        ("qa", "GET", "/admin/submissions"): Case(
            lambda t: Call("GET", "/admin/submissions"), 403, right="agency", wrong="tenant"
        ),
        # assessment
        ("assessment", "GET", "/admin/achievements"): Case(
            lambda t: Call("GET", "/admin/achievements", params={"issuer_id": t.issuer_id}), 404
        ),
        ("assessment", "POST", "/xapi/statements"): Case(
            lambda t: Call("POST", "/xapi/statements", [_statement()], headers=XAPI),
            401,
            right="lms",
            wrong="tenant",
        ),
        ("assessment", "POST", "/caliper"): Case(
            lambda t: Call("POST", "/caliper", _caliper()), 401, right="lms", wrong="tenant"
        ),
        ("assessment", "POST", "/lti/scores"): Case(
            lambda t: Call(
                "POST",
                "/lti/scores",
                _lti(),
                params={"lineitem": "https://lms.open-university.example/courses/tenancy/final"},
            ),
            401,
            right="lms",
            wrong="tenant",
            right_status=(200, 202),
        ),
    }


def _caller(who: str, tenant: Tenant, other: Tenant) -> dict[str, str]:
    lms_token = json.loads(LMS_CONFIG.read_text())["lms"][0]["token"]
    return {
        "tenant": tenant.headers,
        "other": other.headers,
        "operator": OPERATOR,
        "agency": {"Authorization": f"Bearer {AGENCY_TOKEN}"},
        "lms": {"Authorization": f"Bearer {lms_token}"},
    }[who]


async def _send(client: httpx.AsyncClient, call: Call, headers: dict[str, str]) -> httpx.Response:
    return await client.request(
        call.method,
        call.path,
        json=call.body,
        params=call.params,
        headers={**(call.headers or {}), **headers},
    )


def _problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers


@pytest.mark.parametrize(
    ("service", "method", "path"), PROTECTED, ids=[f"{s} {m} {p}" for s, m, p in PROTECTED]
)
async def test_tenancy(stack: Stack, world: dict[str, Tenant], service: str, method: str, path: str) -> None:
    cases = _cases(stack.ports["issuance"])
    case = cases.get((service, method, path))
    assert case is not None, f"new endpoint {service} {method} {path} has no tenancy case in this test"
    tenant, other = world["a"], world["b"]
    call = case.call(tenant)
    async with httpx.AsyncClient(base_url=_url(stack, service), timeout=30) as client:
        _problem(await _send(client, call, {}), 401)
        assert (await _send(client, call, {})).headers["www-authenticate"].startswith("Bearer")

        wrong = await _send(client, case.call(tenant), _caller(case.wrong, tenant, other))
        if case.leak is not None:
            assert wrong.status_code == 200, wrong.text
            assert not case.leak(tenant, wrong.json()), f"{other.issuer_id} sees {tenant.issuer_id}"
        else:
            _problem(wrong, case.wrong_status)

        right = await _send(client, case.call(tenant), _caller(case.right, tenant, other))
        assert right.status_code in case.right_status, right.text
        if case.leak is not None:
            assert case.leak(tenant, right.json())


async def test_a_refused_cross_tenant_change_writes_nothing(stack: Stack, world: dict[str, Tenant]) -> None:
    """B's attempt on A's credential is refused before the audit is written, and the bits stay."""
    tenant, other = world["a"], world["b"]
    async with httpx.AsyncClient(base_url=_url(stack, "revocation"), timeout=30) as client:
        before = (await client.get(f"/credentials/status/{tenant.credential['id']}", headers=OPERATOR)).json()
        for body in (
            _suspend(tenant, "revoked"),
            {**_suspend(tenant, "revoked"), "issuerId": other.issuer_id},
        ):
            _problem(await client.post("/credentials/status", json=body, headers=other.headers), 403)
        mixed = {"updates": [_suspend(other), _suspend(tenant, "revoked")]}
        _problem(await client.post("/credentials/status/bulk", json=mixed, headers=other.headers), 403)
        after = (await client.get(f"/credentials/status/{tenant.credential['id']}", headers=OPERATOR)).json()
        own = (await client.get(f"/credentials/status/{other.credential['id']}", headers=OPERATOR)).json()
    assert after == before
    assert after["status"]["revocation"]["set"] is False
    assert own["status"]["suspension"]["set"] is False, "the bulk request was refused as a whole"


async def test_the_service_principal_may_only_have_status_lists_signed(
    stack: Stack, world: dict[str, Tenant]
) -> None:
    service_token = {"Authorization": f"Bearer {stack_tokens()['revocation-service']}"}
    call = _cases(stack.ports["issuance"])[("issuance", "POST", "/credentials/issue")].call(world["a"])
    async with httpx.AsyncClient(base_url=_url(stack, "issuance"), timeout=30) as client:
        _problem(await _send(client, call, service_token), 403)
        _problem(await client.get("/admin/issuers", headers=service_token), 403)


def _get(path: str) -> Call:
    return Call("GET", path)


def _status_list_path(t: Tenant) -> str:
    return urlsplit(str(t.credential["credentialStatus"][0]["statusListCredential"])).path


PUBLIC_SAMPLES: dict[tuple[str, str, str], Callable[[Tenant], Call]] = {
    ("issuance", "GET", "/issuers/{issuer_id}/did.json"): lambda t: _get(f"/issuers/{t.issuer_id}/did.json"),
    ("issuance", "GET", "/contexts/micro-credential/v1"): lambda t: _get("/contexts/micro-credential/v1"),
    ("issuance", "GET", "/schemas/micro-credential/v1.json"): lambda t: _get(
        "/schemas/micro-credential/v1.json"
    ),
    ("issuance", "POST", "/credentials/verify"): lambda t: Call(
        "POST", "/credentials/verify", {"verifiableCredential": t.credential}
    ),
    ("revocation", "GET", "/status-lists/{issuer_id}/{purpose}/{seq}"): lambda t: _get(_status_list_path(t)),
    ("qa", "GET", "/register/agencies"): lambda t: _get("/register/agencies"),
    ("qa", "GET", "/register/agencies/{agency_id}"): lambda t: _get("/register/agencies/agency-x"),
    ("qa", "GET", "/register/attestations"): lambda t: _get("/register/attestations"),
    ("qa", "GET", "/register/attestations/{attestation_id:path}"): lambda t: _get(
        "/register/attestations/urn:x"
    ),
    ("qa", "GET", "/register/issuers/{issuer_id}"): lambda t: _get(f"/register/issuers/{t.issuer_id}"),
    ("qa", "GET", "/register/achievements/{achievement_id}"): lambda t: _get(
        f"/register/achievements/{t.scenario.achievement_id}"
    ),
    ("qa", "GET", "/register"): lambda t: _get("/register"),
}


@pytest.mark.parametrize(("service", "method", "path"), PUBLIC, ids=[f"{s} {m} {p}" for s, m, p in PUBLIC])
async def test_public_endpoints_need_no_token(
    stack: Stack, world: dict[str, Tenant], service: str, method: str, path: str
) -> None:
    sample = PUBLIC_SAMPLES.get((service, method, path))
    assert sample is not None, f"new public endpoint {service} {method} {path} has no sample in this test"
    async with httpx.AsyncClient(base_url=_url(stack, service), timeout=30) as client:
        response = await _send(client, sample(world["a"]), {})
    # 404 for a sample that names nothing (an unknown attestation), 400 for a credential that
    # does not verify (A's is suspended by the tenancy cases): answers, never 401/403.
    assert response.status_code in (200, 400, 404), response.text


async def test_a_flood_of_public_requests_from_one_client_gets_429(
    stack: Stack, world: dict[str, Tenant]
) -> None:
    """The running service's own limit (20/s, burst 60 per client address, set above): 400 requests
    at once from this address cannot all pass. Last in the module: it empties the bucket."""
    path = f"/issuers/{world['a'].issuer_id}/did.json"
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=_url(stack, "issuance"), limits=limits, timeout=30) as client:
        answers = await asyncio.gather(*(client.get(path) for _ in range(400)))
    codes = [a.status_code for a in answers]
    assert set(codes) == {200, 429} and codes.count(200) >= 60, sorted(set(codes))
    limited = next(a for a in answers if a.status_code == 429)
    assert limited.headers["content-type"] == "application/problem+json"
    assert int(limited.headers["retry-after"]) >= 1
