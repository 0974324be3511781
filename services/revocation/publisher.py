"""Publication of status lists: every list with unpublished changes is re-signed (by the issuance
service, with the issuer's key, through its VC-API) and stored as the exact bytes served.

Coalescing: changes only mark a list dirty (its `version` grows); the publisher wakes on NOTIFY or
every `publish_interval_s`, waits that interval so a burst of changes lands in one version, and
signs each dirty list once. A list is marked published only for the version it signed, so a
change that lands while signing makes it dirty again; two instances signing the same version at
once both store an equivalent credential (the conditional update keeps the first).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from services.revocation.domain import RevocationError
from services.revocation.repository import DIRTY_CHANNEL, RevocationRepository, StatusList
from services.revocation.service import list_credential
from services.revocation.settings import Settings
from services.runtime.db import acquire
from services.runtime.errors import RetryableError

log = logging.getLogger(__name__)
_RETRY_FAILED_S = 30.0

Signer = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def issuance_signer(settings: Settings, client: httpx.AsyncClient) -> Signer:
    """Signs through the issuance service's `POST /credentials/issue` (VC-API)."""

    token = settings.issuance_token
    headers = (
        {"Authorization": f"Bearer {token.get_secret_value()}"} if token and token.get_secret_value() else {}
    )

    async def sign(credential: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await client.post(
                f"{settings.issuance_url.rstrip('/')}/credentials/issue",
                json={"credential": credential},
                headers=headers,
                timeout=10.0,
            )
        except httpx.TransportError as error:
            # The issuance service is down or restarting: retried, never dead-lettered.
            raise RetryableError(f"issuance service unreachable for signing: {error}") from error
        if response.status_code >= 500:
            raise RetryableError(f"issuance service answered {response.status_code} while signing")
        if response.status_code != 201:
            raise RevocationError(
                "signing_refused",
                f"issuance refused to sign {credential['id']}: {response.status_code} {response.text[:300]}",
            )
        signed = response.json()["verifiableCredential"]
        assert isinstance(signed, dict)
        return signed

    return sign


async def publish_list(
    repo: RevocationRepository, status_list: StatusList, *, sign: Signer, ttl_s: int
) -> None:
    """Sign one version of a list and store the exact bytes to serve (unless a newer version was
    published meanwhile)."""
    signed = await sign(list_credential(status_list, ttl_s=ttl_s, now=datetime.now(UTC)))
    body = json.dumps(signed, separators=(",", ":"), ensure_ascii=False).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    await repo.mark_published(status_list.list_id, version=status_list.version, body=body, etag=etag)


class ListPublisher:
    def __init__(self, *, pool: asyncpg.Pool, settings: Settings, sign: Signer) -> None:
        self.pool = pool
        self.settings = settings
        self.sign = sign
        self._wake = asyncio.Event()
        self._failed: dict[str, float] = {}
        self.published = 0

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def run(self) -> None:
        listener: Any = None  # a pooled connection held for LISTEN
        try:
            while True:
                try:
                    if listener is None or listener.is_closed():
                        listener = await self.pool.acquire()
                        await listener.add_listener(DIRTY_CHANNEL, self._on_notify)
                    await self.publish_dirty()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("status list publication failed; retrying")
                    if listener is not None:
                        with contextlib.suppress(Exception):
                            await listener.remove_listener(DIRTY_CHANNEL, self._on_notify)
                            await self.pool.release(listener)
                        listener = None
                    await asyncio.sleep(1.0)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._wake.wait(), timeout=max(self.settings.publish_interval_s * 4, 1.0)
                    )
                self._wake.clear()
                # Let a burst of changes land before signing (one re-signing per list per interval).
                await asyncio.sleep(self.settings.publish_interval_s)
        finally:
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.remove_listener(DIRTY_CHANNEL, self._on_notify)
                    await self.pool.release(listener)

    async def publish_dirty(self) -> int:
        """Sign and store every list with unpublished changes; returns how many were published.

        A list that cannot be signed (e.g. its issuer was removed from issuance) is logged and
        retried after `_RETRY_FAILED_S`; it never holds up the other lists."""
        count = 0
        while True:
            async with acquire(self.pool) as conn:
                dirty = await RevocationRepository(conn).dirty_lists(exclude=list(self._failed_recently()))
            if not dirty:
                return count
            for status_list in dirty:
                try:
                    async with acquire(self.pool) as conn:
                        repo = RevocationRepository(conn)
                        await publish_list(repo, status_list, sign=self.sign, ttl_s=self.settings.list_ttl_s)
                except RetryableError:
                    raise  # the signer is down: every list would fail; the loop retries later
                except Exception:
                    log.exception(
                        "status list %s could not be published; retrying later", status_list.list_id
                    )
                    self._failed[status_list.list_id] = time.monotonic()
                    continue
                self._failed.pop(status_list.list_id, None)
                count += 1
                self.published += 1

    def _failed_recently(self) -> set[str]:
        now = time.monotonic()
        return {list_id for list_id, at in self._failed.items() if now - at < _RETRY_FAILED_S}
