"""Request body bounds on the real services: a body over a service's `HTTP_MAX_BODY_BYTES` is a
413 problem+json before any route reads it, whether its length is declared or it comes chunked;
the public verifier (1 MiB) once read 20 MiB bodies. Revocation's bound fits a bulk request."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from deploy.local.runner import Stack
from services.runtime.process import ServiceHost
from tests.fixtures.issuance import ADMIN

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


def _url(stack: Stack, service: str) -> str:
    return f"http://127.0.0.1:{stack.ports[service]}"


def _too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["reason"] == "payload_too_large"


async def test_a_body_over_the_bound_is_a_413_declared_or_chunked(
    stack: Stack, issuance: ServiceHost
) -> None:
    big = json.dumps({"verifiableCredential": {"padding": "x" * (20 * MIB)}}).encode()

    async def chunked() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    async with httpx.AsyncClient(base_url=_url(stack, "issuance"), timeout=60) as client:
        _too_large(await client.post("/credentials/verify", content=big))
        _too_large(await client.post("/credentials/verify", content=chunked()))
        under = json.dumps({"verifiableCredential": {"padding": "x" * (MIB // 2)}})
        answered = await client.post("/credentials/verify", content=under)
        assert answered.status_code == 400, "under the bound the verifier reads it (and refuses it)"
        assert (await client.get("/health/ready")).status_code == 200


async def test_revocation_reads_a_bulk_request_larger_than_the_default_bound(
    stack: Stack, revocation: ServiceHost
) -> None:
    updates = [
        {"credentialId": f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
         "credentialStatus": [{"type": "BitstringStatusListEntry", "status": "suspended"}],
         "reasonCode": "bound-test"}
        for n in range(16_000)
    ]  # fmt: skip
    body = json.dumps({"updates": updates}).encode()
    assert len(body) > 2 * MIB
    async with httpx.AsyncClient(base_url=_url(stack, "revocation"), headers=ADMIN, timeout=120) as client:
        response = await client.post(
            "/credentials/status/bulk", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code != 413, response.text
    assert response.status_code < 500, response.text
