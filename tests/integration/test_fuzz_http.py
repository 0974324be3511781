"""Fuzzing every HTTP endpoint of the four services, running as real processes on the test stack.

Two generators, one oracle. Hypothesis throws hostile path parameters, query strings, headers and
bodies (JSON of any shape and type, NaN, huge numbers, deep nesting, invalid UTF-8, UTF-16, BOM,
wrong content types) at every operation of each service's OpenAPI document; schemathesis generates
requests from the same documents. Oracle: never a 5xx; every 4xx is `application/problem+json`
whose `status` is the response's; and (schemathesis) responses conform to the documented schema
where the operation documents one.

Authentication comes from `auth_headers` only (the stack's operator token; tenancy itself is
tested in test_http_tenancy.py). The services run with the public rate limit off.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from deploy.local.runner import SERVICES as SPECS
from deploy.local.runner import Stack
from tests.fixtures.fuzz import budget, json_values

pytestmark = pytest.mark.integration

SERVICES = tuple(spec.name for spec in SPECS)

LMS_TOKEN = "dev-lms-token-open-university-moodle"
LMS_ROUTES = ("/xapi/statements", "/caliper", "/lti/scores")


def auth_headers(service: str, path: str) -> dict[str, str]:
    """The credentials a legitimate caller of `path` would send: the LMS token on ingest routes,
    the test stack's operator token (docs/http-security.md) elsewhere."""
    token = LMS_TOKEN if path in LMS_ROUTES else _stack().http_tokens()["operator"]
    return {"Authorization": f"Bearer {token}"}


def _stack() -> Stack:
    return Stack.for_profile(os.environ.get("CREDSTREAM_TEST_PROFILE", "test"))


def _operations(base_url: str) -> list[tuple[str, str, dict[str, Any]]]:
    spec = httpx.get(f"{base_url}/openapi.json", timeout=30).json()
    return [
        (method.upper(), path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "delete", "patch")
    ]


def check_response(response: httpx.Response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:500]}"
    if response.status_code >= 400:
        media_type = response.headers.get("content-type", "").split(";")[0]
        assert media_type == "application/problem+json", f"{what}: {media_type} {response.text[:300]}"
        body = response.json()
        assert body["status"] == response.status_code and body.get("detail"), f"{what}: {body}"


_PATH_TEXT = st.one_of(
    st.text(min_size=1, max_size=40).filter(lambda s: s not in (".", "..") and "/" not in s and "?" not in s
                                            and "#" not in s),
    st.sampled_from(["%00", "%ff%fe", "a" * 5000, "urn:uuid:" + "0" * 36, "-1", "99999999999999999999999",
                     "%2e%2e", "did:web:x", "null", "🙂"]),
)  # fmt: skip


@st.composite
def _body(draw: st.DrawFn) -> tuple[bytes, str | None]:
    kind = draw(st.sampled_from(["json", "json_nan", "deep", "binary", "utf16", "bom", "bignum", "empty"]))
    content_type: str | None = draw(
        st.sampled_from(["application/json", "application/json", "application/vnd.ims.lis.v1.score+json",
                         "text/plain", "application/x-www-form-urlencoded",
                         "application/json; charset=latin-1", None])
    )  # fmt: skip
    if kind == "json":
        return json.dumps(draw(json_values())).encode(), content_type
    if kind == "json_nan":
        return b'{"a": NaN, "scoreGiven": Infinity, "status": -Infinity}', content_type
    if kind == "deep":
        depth = draw(st.integers(min_value=100, max_value=20_000))
        return b"[" * depth + b"]" * depth, content_type
    if kind == "binary":
        return draw(st.binary(max_size=200)), content_type
    if kind == "utf16":
        return json.dumps({"id": draw(st.text(max_size=10))}).encode("utf-16"), content_type
    if kind == "bom":
        return b"\xef\xbb\xbf" + json.dumps(draw(json_values())).encode(), content_type
    if kind == "bignum":
        return b'{"size": ' + b"9" * draw(st.integers(20, 5000)) + b', "scoreGiven": 1e400}', content_type
    return b"", content_type


# Printable ASCII without surrounding blanks (the HTTP client refuses anything else).
_HEADER_VALUE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60).filter(
    lambda v: v == v.strip()
) | st.sampled_from(["Bearer", "Bearer  x", "Basic Zm9vOmJhcg==", "bearer " + "x" * 4000, "Bearer %C3%A9"])


@pytest.mark.parametrize("service", SERVICES)
def test_hostile_requests_get_a_4xx_problem_or_success_never_a_5xx(
    service: str, service_processes: dict[str, str]
) -> None:
    base_url = service_processes[service]
    operations = _operations(base_url)

    @settings(max_examples=budget(150), suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        method, template, _ = data.draw(st.sampled_from(operations), label="operation")
        path = template
        for name in [p.split("}")[0] for p in template.split("{")[1:]]:
            value = data.draw(_PATH_TEXT, label=name)
            path = path.replace("{" + name + "}", quote(value, safe="%:"))
        authenticated = data.draw(st.booleans(), label="authenticated")
        headers = dict(auth_headers(service, template)) if authenticated else {}
        if data.draw(st.booleans(), label="hostile authorization"):
            headers["Authorization"] = data.draw(_HEADER_VALUE)
        for name in data.draw(
            st.lists(
                st.sampled_from(
                    [
                        "If-None-Match",
                        "Accept",
                        "X-Experience-API-Version",
                        "Content-Length-Junk",
                        "traceparent",
                    ]
                ),
                max_size=2,
            )
        ):
            headers[name] = data.draw(_HEADER_VALUE)  # fmt: skip
        names = st.sampled_from(["issuer_id", "lineitem", "limit", "status", "x", "q"])
        params = data.draw(st.dictionaries(names, _PATH_TEXT, max_size=3))
        content: bytes | None = None
        if method in ("POST", "PUT", "PATCH"):
            content, content_type = data.draw(_body())
            if content_type:
                headers["Content-Type"] = content_type
        response = httpx.request(
            method, base_url + path, params=params, headers=headers, content=content, timeout=30
        )
        check_response(response, f"{method} {path}")

    fuzz()
    assert httpx.get(f"{base_url}/health/ready", timeout=10).status_code == 200


def _run_operation(operation: Any, base_url: str, service: str) -> None:
    headers = auth_headers(service, str(operation.path))

    @settings(max_examples=budget(25), suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
        plain = {k: v[0] if isinstance(v, list) else v for k, v in response.headers.items()}
        what = f"{case.method} {case.formatted_path}"
        check_response(httpx.Response(response.status_code, headers=plain, content=response.content), what)

    run()


@pytest.mark.parametrize("service", SERVICES)
def test_schemathesis_from_the_openapi_document(service: str, service_processes: dict[str, str]) -> None:
    base_url = service_processes[service]
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation: Any = result.ok()  # type: ignore[union-attr]  # an invalid document fails here
        try:
            _run_operation(operation, base_url, service)
        except Exception as error:  # collect every operation's failure, then fail once
            failures.append(f"{operation.label}: {str(error)[:1500]}")
    assert not failures, "\n\n".join(failures)
