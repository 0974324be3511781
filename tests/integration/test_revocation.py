"""Revocation and suspension on the real broker and database: status entries in every credential,
the published Bitstring Status List, status changes by HTTP and by event, and verification
reporting revoked / suspended / valid, or an explicit error."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts.ids import credential_id
from contracts.topics import ACHIEVEMENTS_EARNED, CREDENTIAL_STATUS, CREDENTIALS_ISSUED, STATUS_REQUESTS
from contracts.v1.revocation import CredentialStatusChangeRequested
from deploy.local.runner import Stack
from deploy.tools.publish import publish_event
from services.issuance.app import create_app as create_issuance
from services.runtime.process import ServiceHost
from tests.fixtures.interop import decode_status_list, verify_with_digitalbazaar
from tests.fixtures.issuance import ADMIN, IssuerScenario, issuance_settings
from tests.fixtures.process import free_port
from tests.fixtures.revocation import REVOCATION_ADMIN, set_status
from tests.fixtures.waiting import eventually
from vc.status import MIN_ENTRIES, Bitstring, decode_list

pytestmark = pytest.mark.integration
ASSESSMENT = "urn:test:assessment"
# The tests' own status list server and a port nothing listens on: loopback, so the verifier's SSRF
# guard refuses them unless allowed explicitly, as the platform's own lists are.
LIST_PORT, CLOSED_PORT = free_port(), free_port()


@pytest.fixture(scope="module")
async def issuance(stack: Stack, revocation: ServiceHost) -> AsyncIterator[ServiceHost]:
    settings = issuance_settings(
        stack, allow_status_from=(f"http://127.0.0.1:{LIST_PORT}/", f"http://127.0.0.1:{CLOSED_PORT}/")
    )
    host = await create_issuance(settings)
    await host.start()
    yield host
    await host.stop()


@pytest.fixture
def urls(stack: Stack) -> tuple[str, str]:
    return f"http://127.0.0.1:{stack.ports['issuance']}", f"http://127.0.0.1:{stack.ports['revocation']}"


async def _issue(
    scenario: IssuerScenario, learner: str, producer: AIOKafkaProducer, watch: Any
) -> dict[str, Any]:
    issued = await watch(CREDENTIALS_ISSUED.name)
    earned = scenario.earned(learner)
    await publish_event(
        producer, ACHIEVEMENTS_EARNED, earned, key=earned.earned_id, source="urn:test:assessment"
    )
    [record] = await issued.wait_for(lambda r: r.json()["earned_id"] == earned.earned_id, count=1, timeout=60)
    credential: dict[str, Any] = record.json()["credential"]
    return credential


async def _verify(issuance_url: str, credential: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=issuance_url, timeout=30) as client:
        response = await client.post("/credentials/verify", json={"verifiableCredential": credential})
    body: dict[str, Any] = response.json()
    assert (response.status_code == 200) == body["verified"], response.text
    return body


async def _status_becomes(
    issuance_url: str, credential: dict[str, Any], expected: dict[str, str]
) -> dict[str, Any]:
    """Verification until it reports `expected` (lists are re-published within the coalescing
    interval and cached by verifiers for their ttl, 1 s in tests)."""
    seen: dict[str, Any] = {}

    async def check() -> bool:
        seen.update(await _verify(issuance_url, credential))
        return bool(seen.get("status") == expected)

    await eventually(check, timeout=20, what=f"status {expected} (last: {seen.get('status')})")
    return seen


def _entry(credential: dict[str, Any], purpose: str) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [
        e for e in credential["credentialStatus"] if e["statusPurpose"] == purpose
    ]
    [entry] = entries
    return entry


async def _published_bit(entry: dict[str, Any]) -> bool:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(entry["statusListCredential"])
    assert response.status_code == 200
    bits = decode_list(response.json()["credentialSubject"]["encodedList"])
    return bits.get(int(entry["statusListIndex"]))


async def test_revoke_suspend_lift_and_the_refusal_to_unrevoke(
    stack: Stack, issuance: ServiceHost, producer: AIOKafkaProducer, watch: Any, urls: tuple[str, str]
) -> None:
    issuance_url, revocation_url = urls
    scenario = IssuerScenario()
    await scenario.define(issuance_url)
    changes = await watch(CREDENTIAL_STATUS.name)
    first = await _issue(scenario, "learner-r1", producer, watch)
    second = await _issue(scenario, "learner-r2", producer, watch)

    for credential in (first, second):
        entries = credential["credentialStatus"]
        assert {e["statusPurpose"] for e in entries} == {"revocation", "suspension"}
        for e in entries:
            assert e["type"] == "BitstringStatusListEntry"
            assert e["statusListIndex"].isdigit() and 0 <= int(e["statusListIndex"]) < MIN_ENTRIES
            assert e["statusListCredential"].startswith(
                f"{revocation_url}/status-lists/{scenario.issuer_id}/"
            )
    assert _entry(first, "revocation")["statusListIndex"] != _entry(second, "revocation")["statusListIndex"]
    await _status_becomes(issuance_url, first, {"revocation": "valid", "suspension": "valid"})

    revoked = await set_status(
        revocation_url, first["id"], "revoked", reason_code="fraud", reason="exam fraud"
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["results"][0]["outcome"] == "applied"
    body = await _status_becomes(issuance_url, first, {"revocation": "revoked", "suspension": "valid"})
    assert [e["code"] for e in body["errors"]] == ["REVOKED"]
    assert await _published_bit(_entry(first, "revocation")) is True
    # An independent decoder (Digital Bazaar's vc-bitstring-status-list) reads the same bits, and
    # Digital Bazaar's verifier, checking status itself, refuses the revoked credential.
    length, set_bits = await asyncio.to_thread(
        decode_status_list, _entry(first, "revocation")["statusListCredential"]
    )
    assert length == MIN_ENTRIES and set_bits == [int(_entry(first, "revocation")["statusListIndex"])]
    [theirs] = await asyncio.to_thread(
        verify_with_digitalbazaar,
        [first],
        did_web_http=[f"127.0.0.1:{stack.ports['issuance']}"],
        check_status=True,
    )
    assert not theirs.verified and theirs.status == {"revocation": True, "suspension": False}

    unrevoke = await set_status(revocation_url, first["id"], "active")  # lifting applies to suspension only
    assert unrevoke.status_code == 200
    refused = await _bulk_raw(revocation_url, first["id"], "revocation", "0")
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["reason"] == "revocation_is_final"
    assert await _published_bit(_entry(first, "revocation")) is True

    assert (await set_status(revocation_url, second["id"], "suspended")).status_code == 200
    await _status_becomes(issuance_url, second, {"revocation": "valid", "suspension": "suspended"})
    assert (await set_status(revocation_url, second["id"], "unsuspended")).status_code == 200
    await _status_becomes(issuance_url, second, {"revocation": "valid", "suspension": "valid"})

    async with httpx.AsyncClient(base_url=revocation_url, headers=REVOCATION_ADMIN, timeout=30) as client:
        status = (await client.get(f"/credentials/status/{first['id']}")).json()
    assert status["status"]["revocation"]["set"] is True
    outcomes = [(a["purpose"], a["set_bit"], a["outcome"], a["reason_code"]) for a in status["audit"]]
    assert outcomes == [
        ("revocation", True, "applied", "fraud"),
        ("suspension", False, "unchanged", "test"),
        ("revocation", False, "refused", "unspecified"),
    ]
    events = await changes.wait_for(
        lambda r: r.json()["credential_id"] in (first["id"], second["id"]), count=3, timeout=30, settle=1.0
    )
    assert sorted((e.json()["purpose"], e.json()["set"]) for e in events) == [
        ("revocation", True),
        ("suspension", False),
        ("suspension", True),
    ]
    # Reasons stay in the audit: the public list and the events carry none.
    async with httpx.AsyncClient(timeout=30) as client:
        public = await client.get(_entry(first, "revocation")["statusListCredential"])
    assert "fraud" not in public.text and all("fraud" not in e.value.decode() for e in events)


async def _bulk_raw(revocation_url: str, credential_id: str, purpose: str, bit: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=revocation_url, headers=REVOCATION_ADMIN, timeout=30) as client:
        return await client.post(
            "/credentials/status",
            json={
                "credentialId": credential_id,
                "credentialStatus": [
                    {"type": "BitstringStatusListEntry", "statusPurpose": purpose, "status": bit}
                ],
            },
        )


async def test_status_lists_are_served_with_caching_headers_and_304(
    issuance: ServiceHost, producer: AIOKafkaProducer, watch: Any, urls: tuple[str, str]
) -> None:
    issuance_url, revocation_url = urls
    scenario = IssuerScenario(cryptosuite="eddsa-jcs-2022")
    await scenario.define(issuance_url)
    credential = await _issue(scenario, "learner-etag", producer, watch)
    url = _entry(credential, "suspension")["statusListCredential"]
    async with httpx.AsyncClient(timeout=30) as client:
        first = await client.get(url)
        assert first.status_code == 200
        assert first.headers["content-type"].startswith("application/vc")
        assert first.headers["cache-control"] == "public, max-age=1"
        listed = first.json()
        assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
        assert listed["issuer"] == credential["issuer"]["id"]
        assert listed["credentialSubject"]["ttl"] == 1000
        assert listed["proof"]["cryptosuite"] == "eddsa-jcs-2022"
        assert len(decode_list(listed["credentialSubject"]["encodedList"])) >= MIN_ENTRIES
        etag = first.headers["etag"]
        again = await client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert (await client.get(url, headers={"If-None-Match": '"other"'})).status_code == 200
        missing = await client.get(f"{revocation_url}/status-lists/{scenario.issuer_id}/suspension/999")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")


async def test_status_changes_by_event_are_applied_once_even_when_redelivered(
    issuance: ServiceHost, producer: AIOKafkaProducer, watch: Any, urls: tuple[str, str]
) -> None:
    issuance_url, revocation_url = urls
    scenario = IssuerScenario()
    await scenario.define(issuance_url)
    credential = await _issue(scenario, "learner-event", producer, watch)
    changes = await watch(CREDENTIAL_STATUS.name)
    request = CredentialStatusChangeRequested(
        request_id=str(uuid.uuid4()),
        credential_id=credential["id"],
        issuer_id=scenario.issuer_id,
        purpose="suspension",
        set=True,
        reason_code="investigation",
        actor="registrar@university.test",
    )
    for _ in range(2):  # the same event twice: the inbox applies it once
        await publish_event(
            producer, STATUS_REQUESTS, request, key=credential["id"], source="urn:test:provider"
        )
    events = await changes.wait_for(
        lambda r: r.json()["credential_id"] == credential["id"], timeout=30, settle=2
    )
    assert len(events) == 1
    await _status_becomes(issuance_url, credential, {"revocation": "valid", "suspension": "suspended"})
    async with httpx.AsyncClient(base_url=revocation_url, headers=REVOCATION_ADMIN, timeout=30) as client:
        audit = (await client.get(f"/credentials/status/{credential['id']}")).json()["audit"]
    assert [(a["outcome"], a["actor"], a["channel"]) for a in audit] == [
        ("applied", "registrar@university.test", "event")
    ]


class _ListServer:
    """A local HTTP server that serves whatever documents the test puts in `documents`."""

    def __init__(self) -> None:
        documents: dict[str, bytes] = {}
        self.documents = documents

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = documents.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/vc")
                self.end_headers()
                self.wfile.write(body or b"{}")

            def log_message(self, *_: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", LIST_PORT), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def list_server() -> Iterator[_ListServer]:
    server = _ListServer()
    yield server
    server.close()


async def _sign(issuance_url: str, credential: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=issuance_url, headers=ADMIN, timeout=30) as client:
        response = await client.post("/credentials/issue", json={"credential": credential})
    assert response.status_code == 201, response.text
    signed: dict[str, Any] = response.json()["verifiableCredential"]
    return signed


def _list_document(url: str, issuer: str, bits: Bitstring, purpose: str = "revocation") -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": bits.encode(),
        },
    }


async def test_tampered_unreachable_short_lists_and_bad_indexes_are_explicit_errors(
    stack: Stack, issuance: ServiceHost, list_server: _ListServer, urls: tuple[str, str]
) -> None:
    issuance_url, _ = urls
    scenario = IssuerScenario()
    await scenario.define(issuance_url)
    issuer = f"did:web:127.0.0.1%3A{stack.ports['issuance']}:issuers:{scenario.issuer_id}"

    full = Bitstring(MIN_ENTRIES)
    full.set(42, True)
    good = await _sign(issuance_url, _list_document(f"{list_server.base}/good", issuer, full))
    tampered = json.loads(json.dumps(good))
    flipped = decode_list(tampered["credentialSubject"]["encodedList"])
    flipped.set(42, False)  # the holder's dream: an unrevoked bit, but the proof no longer holds
    tampered["credentialSubject"]["encodedList"] = flipped.encode()
    tampered["id"] = f"{list_server.base}/tampered"
    short = await _sign(issuance_url, _list_document(f"{list_server.base}/short", issuer, Bitstring(1024)))
    list_server.documents.update(
        {
            "/good": json.dumps(good).encode(),
            "/tampered": json.dumps(tampered).encode(),
            "/short": json.dumps(short).encode(),
        }
    )

    async def verify_with(url: str, index: str) -> dict[str, Any]:
        credential = await _sign(
            issuance_url,
            {
                "@context": ["https://www.w3.org/ns/credentials/v2"],
                "id": f"urn:uuid:{uuid.uuid4()}",
                "type": ["VerifiableCredential"],
                "issuer": issuer,
                "validFrom": "2026-01-01T00:00:00Z",
                "credentialSubject": {"id": "did:example:learner"},
                "credentialStatus": {
                    "id": f"{url}#{index}",
                    "type": "BitstringStatusListEntry",
                    "statusPurpose": "revocation",
                    "statusListIndex": index,
                    "statusListCredential": url,
                },
            },
        )
        return await _verify(issuance_url, credential)

    ok = await verify_with(f"{list_server.base}/good", "41")
    assert ok["verified"] is True and ok["status"] == {"revocation": "valid"}
    revoked = await verify_with(f"{list_server.base}/good", "42")
    assert revoked["status"] == {"revocation": "revoked"}
    cases = {
        "STATUS_VERIFICATION_ERROR": (f"{list_server.base}/tampered", "42"),
        "STATUS_RETRIEVAL_ERROR": (f"{list_server.base}/missing", "1"),
        "STATUS_LIST_LENGTH_ERROR": (f"{list_server.base}/short", "1"),
        "RANGE_ERROR": (f"{list_server.base}/good", str(MIN_ENTRIES)),
    }
    for code, (url, index) in cases.items():
        body = await verify_with(url, index)
        assert body["verified"] is False, code
        assert body["status"] == {"revocation": "error"}, code
        assert [e["code"] for e in body["errors"]] == [code], body["errors"]
    closed_port = f"http://127.0.0.1:{CLOSED_PORT}/nothing"
    unreachable = await verify_with(closed_port, "1")
    assert [e["code"] for e in unreachable["errors"]] == ["STATUS_RETRIEVAL_ERROR"]


async def test_a_status_request_for_a_credential_not_yet_seen_waits_for_it(
    stack: Stack, issuance: ServiceHost, producer: AIOKafkaProducer, watch: Any, urls: tuple[str, str]
) -> None:
    """The request may arrive before the credential.issued event: it is parked, then applied."""
    issuance_url, _ = urls
    scenario = IssuerScenario()
    await scenario.define(issuance_url)
    earned = scenario.earned("learner-early")

    future_id = credential_id(earned.earned_id)
    request = CredentialStatusChangeRequested(
        request_id=str(uuid.uuid4()),
        credential_id=future_id,
        issuer_id=scenario.issuer_id,
        purpose="revocation",
        set=True,
        reason_code="issued-in-error",
        actor="operator",
    )
    await publish_event(producer, STATUS_REQUESTS, request, key=future_id, source="urn:test:operator")
    conn = await asyncpg.connect(stack.database_url("revocation"))
    try:

        async def parked() -> bool:
            query = "SELECT count(*) FROM revocation.pending_changes WHERE request_id = $1"
            return bool(await conn.fetchval(query, request.request_id))

        await eventually(parked, timeout=30, what="the early request parked")
    finally:
        await conn.close()
    issued = await watch(CREDENTIALS_ISSUED.name)
    await publish_event(
        producer, ACHIEVEMENTS_EARNED, earned, key=earned.earned_id, source="urn:test:assessment"
    )
    [record] = await issued.wait_for(lambda r: r.json()["credential_id"] == future_id, count=1, timeout=60)
    await _status_becomes(
        issuance_url, record.json()["credential"], {"revocation": "revoked", "suspension": "valid"}
    )


async def test_status_update_http_refusals_and_bulk_summary(
    issuance: ServiceHost, producer: AIOKafkaProducer, watch: Any, urls: tuple[str, str]
) -> None:
    issuance_url, revocation_url = urls
    scenario = IssuerScenario()
    await scenario.define(issuance_url)
    credentials = [await _issue(scenario, f"learner-bulk-{n}", producer, watch) for n in range(3)]
    ok = {"credentialId": credentials[0]["id"], "credentialStatus": [{"status": "suspended"}]}
    async with httpx.AsyncClient(base_url=revocation_url, timeout=30) as client:
        assert (await client.post("/credentials/status", json=ok)).status_code == 401
        foreign = {"Authorization": "Bearer someone-else"}
        assert (await client.post("/credentials/status", json=ok, headers=foreign)).status_code == 401
        client.headers.update(REVOCATION_ADMIN)
        cases = [
            ({"credentialId": "x", "credentialStatus": []}, 400, "body_invalid"),
            ({**ok, "unexpected": 1}, 400, "body_invalid"),
            ({**ok, "credentialStatus": [{"status": "destroyed"}]}, 400, "status_invalid"),
            (
                {**ok, "credentialId": "urn:uuid:00000000-0000-0000-0000-000000000000"},
                404,
                "credential_unknown",
            ),
        ]
        for body, code, reason in cases:
            response = await client.post("/credentials/status", json=body)
            assert response.status_code == code, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["reason"] == reason
        wrong_type = await client.post(
            "/credentials/status", content=b"{}", headers={"content-type": "text/plain"}
        )
        assert wrong_type.status_code == 415

        # Retried with the same requestId: applied once.
        request_id = f"retry-{uuid.uuid4()}"
        keyed = {**ok, "requestId": request_id}
        first = (await client.post("/credentials/status", json=keyed)).json()["results"][0]
        again = (await client.post("/credentials/status", json=keyed)).json()["results"][0]
        assert (first["outcome"], again["outcome"]) == ("applied", "applied")
        audit = (await client.get(f"/credentials/status/{credentials[0]['id']}")).json()["audit"]
        assert [a["request_id"] for a in audit] == [request_id]
        # The same request id for another change is refused, not mistaken for a retry.
        reused = {**keyed, "credentialStatus": [{"status": "revoked"}]}
        conflict = await client.post("/credentials/status", json=reused)
        assert conflict.status_code == 409 and conflict.json()["reason"] == "request_id_reused"

        bulk = {
            "updates": [
                {"credentialId": c["id"], "credentialStatus": [{"status": "revoked"}], "reasonCode": "bulk"}
                for c in credentials
            ]
            + [{"credentialId": credentials[0]["id"], "credentialStatus": [{"status": "suspended"}]}]
        }
        summary = (await client.post("/credentials/status/bulk", json=bulk)).json()
    assert summary["summary"] == {"applied": 3, "unchanged": 1}
    assert [r["outcome"] for r in summary["results"]] == ["unchanged"]
