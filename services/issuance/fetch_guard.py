"""SSRF guard for the public verifier's status list fetches (`POST /credentials/verify`).

Anyone may ask us to verify a credential, and the credential names the URL of its status list, so
without a guard the verifier fetches whatever a stranger writes there: the cloud metadata service
(169.254.169.254), the database port on loopback, a host on the private network. The policy:

- only `http` and `https` URLs;
- the platform's own status list base URLs (`ISSUANCE_STATUS_LIST_ALLOWED_BASE_URLS`) are allowed
  whatever address they name (the local stack serves its lists from 127.0.0.1);
- every other host is resolved, and refused when *any* address it resolves to is private,
  loopback, link-local, multicast, reserved, unspecified or otherwise not globally routable;
- the check happens in the connection itself (`GuardedBackend.connect_tcp`), which then connects to
  the very address it checked, so a DNS answer that changes between check and connect (DNS
  rebinding) cannot slip through; TLS still verifies the certificate against the host name;
- redirects are not followed (the fetch treats a 3xx as an error), and environment proxies are
  ignored (the guard must see the real destination).

A refusal is reported as `STATUS_RETRIEVAL_ERROR` with the reason in the message.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from vc.status import StatusError

_DEFAULT_PORTS = {"http": 80, "https": 443}


class FetchRefused(StatusError):
    """A status list URL the guard will not fetch; `reason` is a short machine-readable word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__("STATUS_RETRIEVAL_ERROR", f"refused ({reason}): {message}")
        self.reason = reason


def address_refusal(address: str) -> str | None:
    """Why an IP address may not be fetched from, or None when it is a global unicast address."""
    ip = ipaddress.ip_address(address.split("%", maxsplit=1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for reason, flagged in (
        ("loopback_address", ip.is_loopback),
        ("link_local_address", ip.is_link_local),
        ("multicast_address", ip.is_multicast),
        ("unspecified_address", ip.is_unspecified),
        ("reserved_address", ip.is_reserved),
        ("private_address", ip.is_private),
        ("non_global_address", not ip.is_global),
    ):
        if flagged:
            return reason
    return None


def _origin(url: str) -> tuple[str, int] | None:
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.hostname.lower(), parts.port or _DEFAULT_PORTS[parts.scheme]


class FetchPolicy:
    """Which status list URLs may be fetched (see the module docstring)."""

    def __init__(self, allowed_base_urls: Iterable[str]) -> None:
        self.allowed_base_urls = tuple(u for u in allowed_base_urls if u)
        self.allowed_origins = {o for u in self.allowed_base_urls if (o := _origin(u)) is not None}

    def check_url(self, url: str) -> None:
        """Refuse before any I/O what the URL alone tells (scheme, host)."""
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS:
            raise FetchRefused("scheme_not_allowed", f"{url[:200]} is not an http(s) URL")
        if not parts.hostname:
            raise FetchRefused("host_missing", f"{url[:200]} names no host")
        if parts.username or parts.password:
            raise FetchRefused("credentials_in_url", "status list URLs may not carry credentials")
        origin = _origin(url)
        if origin in self.allowed_origins and not self.is_own(url):
            # The own origin is trusted only for its status lists, not for its other endpoints.
            raise FetchRefused("outside_allowed_base", f"{url[:200]} is not under an allowed base URL")

    def is_own(self, url: str) -> bool:
        return any(url.startswith(base) for base in self.allowed_base_urls)

    def origin_allowed(self, host: str, port: int) -> bool:
        return (host.lower().strip("[]"), port) in self.allowed_origins


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the address check at connect time (DNS rebinding safe)."""

    def __init__(self, policy: FetchPolicy, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.policy = policy
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if self.policy.origin_allowed(host, port):
            target = host
        else:
            target = await self._checked_address(host, port)
        return await self.inner.connect_tcp(
            target, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def _checked_address(self, host: str, port: int) -> str:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            raise FetchRefused("host_unresolvable", f"{host} does not resolve: {error}") from error
        addresses = [str(info[4][0]) for info in infos]
        if not addresses:
            raise FetchRefused("host_unresolvable", f"{host} resolves to no address")
        for address in addresses:
            if reason := address_refusal(address):
                raise FetchRefused(reason, f"{host} resolves to {address}, which is not a public address")
        return addresses[0]

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise FetchRefused("scheme_not_allowed", "unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def guarded_client(policy: FetchPolicy) -> httpx.AsyncClient:
    """The verifier's HTTP client: no redirects, no environment proxies, the guarded backend."""
    transport = httpx.AsyncHTTPTransport()
    # httpx builds its httpcore pool itself and has no parameter for the network backend; the
    # pool keeps it in `_network_backend` (httpcore 1.x). tests/unit/issuance/test_fetch_guard.py
    # fails if that ever stops being the connection path.
    transport._pool._network_backend = GuardedBackend(policy)
    return httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False)
