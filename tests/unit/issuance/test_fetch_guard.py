"""The verifier's SSRF guard: every refusal class, the allow-list for our own status lists, and no
redirects. Refused URLs are never connected to (the check runs before the connection is made), so
these tests send no traffic anywhere but to their own server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from services.issuance.fetch_guard import FetchPolicy, FetchRefused, address_refusal, guarded_client
from services.issuance.verification import VerificationResult, check_status, http_fetcher
from vc.keys import StaticKeyResolver
from vc.status import ListCache, StatusError

LIST = {"id": "list", "type": ["VerifiableCredential", "BitstringStatusListCredential"]}


class _Server:
    """Serves `/status-lists/ok` (JSON) and `/status-lists/hop` (a 302 to the metadata address)."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                if self.path.endswith("/hop"):
                    self.send_response(302)
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/vc")
                self.end_headers()
                self.wfile.write(json.dumps(LIST).encode())

            def log_message(self, *_: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    yield s
    s.close()


@pytest.fixture
async def fetch(server: _Server) -> AsyncIterator[Any]:
    policy = FetchPolicy([f"{server.base}/status-lists/"])
    client = guarded_client(policy)
    yield http_fetcher(client, ListCache(default_ttl_s=0.0), policy)
    await client.aclose()


async def _refusal(fetch: Any, url: str) -> FetchRefused:
    with pytest.raises(FetchRefused) as caught:
        await fetch(url)
    assert caught.value.code == "STATUS_RETRIEVAL_ERROR"
    return caught.value


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "scheme_not_allowed"),
        ("ftp://example.org/list", "scheme_not_allowed"),
        ("gopher://example.org/list", "scheme_not_allowed"),
        ("http:///no-host", "host_missing"),
        ("http://user:secret@example.org/list", "credentials_in_url"),
    ],
)
async def test_urls_refused_before_any_io(fetch: Any, url: str, reason: str) -> None:
    assert (await _refusal(fetch, url)).reason == reason


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback_address"),
        ("127.8.9.10", "loopback_address"),
        ("[::1]", "loopback_address"),
        ("localhost", "loopback_address"),  # a host name: checked after resolution
        ("[::ffff:127.0.0.1]", "loopback_address"),  # IPv4-mapped IPv6
        ("10.1.2.3", "private_address"),
        ("172.16.5.4", "private_address"),
        ("192.168.0.10", "private_address"),
        ("[fc00::1]", "private_address"),
        ("169.254.169.254", "link_local_address"),  # cloud metadata
        ("[fe80::1]", "link_local_address"),
        ("224.0.0.251", "multicast_address"),
        ("[ff02::1]", "multicast_address"),
        ("240.0.0.1", "reserved_address"),
        ("0.0.0.0", "unspecified_address"),
        ("100.64.0.1", "non_global_address"),  # carrier-grade NAT
    ],
)
async def test_non_public_addresses_are_refused_after_resolution(
    fetch: Any, server: _Server, host: str, reason: str
) -> None:
    refused = await _refusal(fetch, f"http://{host}:9/status-lists/x")
    assert refused.reason == reason, refused
    assert server.hits == []


async def test_the_allowed_own_base_url_is_fetched_even_on_loopback(fetch: Any, server: _Server) -> None:
    assert await fetch(f"{server.base}/status-lists/ok") == LIST
    assert server.hits == ["/status-lists/ok"]


async def test_the_own_origin_outside_its_base_path_is_refused(fetch: Any, server: _Server) -> None:
    refused = await _refusal(fetch, f"{server.base}/admin/issuers")
    assert refused.reason == "outside_allowed_base"
    assert server.hits == []


async def test_redirects_are_not_followed(fetch: Any, server: _Server) -> None:
    with pytest.raises(StatusError) as caught:
        await fetch(f"{server.base}/status-lists/hop")
    assert caught.value.code == "STATUS_RETRIEVAL_ERROR" and "302" in caught.value.message
    assert server.hits == ["/status-lists/hop"]


async def test_a_refusal_is_reported_by_verification_as_status_retrieval_error(fetch: Any) -> None:
    credential = {
        "issuer": "did:example:issuer",
        "credentialStatus": {
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": "1",
            "statusListCredential": "http://169.254.169.254/latest/meta-data/",
        },
    }
    result = VerificationResult()

    async def resolver_for(_: dict[str, Any]) -> StaticKeyResolver:
        return StaticKeyResolver()

    await check_status(credential, result, fetch=fetch, resolver_for=resolver_for)
    assert result.status == {"revocation": "error"}
    [error] = result.errors
    assert error["code"] == "STATUS_RETRIEVAL_ERROR"
    assert "link_local_address" in error["message"]


def test_global_addresses_pass() -> None:
    assert address_refusal("8.8.8.8") is None
    assert address_refusal("2001:4860:4860::8888") is None
