"""Status list benchmark on the running platform: bulk status changes, re-publication, list GETs.

    CREDSTREAM_PUBLIC_RATE_PER_S=0 deploy/local/up    # the platform, public rate limit off
    .venv/bin/python -m bench.status_lists --changes 100000

The GET phase sends thousands of requests a second from one address, which the public endpoints'
per-client rate limit (`<SERVICE>_PUBLIC_RATE_PER_S`, default 100/s) would answer with 429; the
benchmark measures the service, so the platform is started with the limit off, and a run that
still sees a 429 (or any non-2xx) fails instead of reporting a figure.

Set-up (not timed): a fresh issuer is registered through the issuance admin API; its revocation
and suspension lists get `--changes` reserved indexes each (the revocation service's own
reservation code, on its database), and that many synthetic credentials get one entry per purpose
(as credential.issued would record them; COPY, since issuing 100,000 real credentials is the
issuance benchmark's job).

Timed: `--changes` status changes (half revocations, half suspensions, each of a different
credential) sent to `POST /credentials/status/bulk` in batches of `--batch`, until every affected
list is re-published, i.e. the list credential served over HTTP is signed, shows every bit, and
nothing else. Then status list GETs per second (`--concurrency` connections for `--seconds`),
full and conditional (304), with `wrk` when it is installed (Debian package), else with httpx.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from contracts.base import Event
from contracts.topics import Topic
from deploy.local.runner import Stack
from services.revocation import service
from services.revocation.repository import RevocationRepository
from services.revocation.service import RevocationContext
from vc.status import decode_list


class _NoEvents:
    """An `EventOutbox` that enqueues nothing (the reservations below announce no block)."""

    async def enqueue(self, topic: Topic, events: Event | Sequence[Event]) -> list[str]:
        return []

    async def enqueue_bulk(
        self, topic: Topic, event_type: type[Event], payloads: Sequence[Mapping[str, Any]]
    ) -> None:
        return None


def _operator(stack: Stack) -> dict[str, str]:
    """The stack's generated operator token (deploy/local/runner.py)."""
    return {"Authorization": f"Bearer {stack.http_tokens()['operator']}"}


async def _setup(stack: Stack, changes: int) -> tuple[str, list[str], dict[str, set[int]]]:
    """A registered issuer, `changes` credentials with entries; returns issuer, ids, and the bits
    each list must show once the changes are applied (list URL -> indexes)."""
    issuance = f"http://127.0.0.1:{stack.ports['issuance']}"
    revocation = f"http://127.0.0.1:{stack.ports['revocation']}"
    issuer_id = f"bench-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=issuance, headers=_operator(stack), timeout=60) as client:
        response = await client.put(
            f"/admin/issuers/{issuer_id}",
            json={"issuer_id": issuer_id, "name": "Bench University", "url": "https://bench.test/",
                  "country_code": "EE"},
        )  # fmt: skip
        response.raise_for_status()
        did = (await client.get(f"/issuers/{issuer_id}/did.json")).json()["id"]

    async def noop(*_: Any) -> None:
        return None

    ctx = RevocationContext(
        public_base_url=revocation,
        list_length=131_072,
        list_ttl_s=60,
        event_source="urn:bench",
        outbox=_NoEvents(),  # the bench reserves its own indexes; no issuance is waiting for them
        publish_list=noop,  # the running service's publisher signs the new lists
    )
    conn = await asyncpg.connect(
        stack.database_url("revocation"), server_settings={"search_path": "revocation"}
    )
    ids = [f"urn:uuid:{uuid.uuid4()}" for _ in range(changes)]
    expected: dict[str, set[int]] = {}
    try:
        for purpose in ("revocation", "suspension"):
            indexes: list[tuple[str, int]] = []
            while len(indexes) < changes:
                async with conn.transaction():
                    block = await service.reserve_block(
                        request_id=str(uuid.uuid4()),
                        issuer_id=issuer_id,
                        issuer_did=did,
                        purpose=purpose,
                        size=min(65_536, changes - len(indexes)),
                        repo=RevocationRepository(conn),
                        ctx=ctx,
                    )
                indexes += [(block.status_list_credential, i) for i in block.indexes]
            list_ids = {
                r["url"]: r["list_id"]
                for r in await conn.fetch(
                    "SELECT url, list_id FROM status_lists WHERE issuer_id = $1", issuer_id
                )
            }
            await conn.copy_records_to_table(
                "entries",
                records=[
                    (cid, purpose, issuer_id, list_ids[url], i)
                    for cid, (url, i) in zip(ids, indexes, strict=True)
                ],
                columns=["credential_id", "purpose", "issuer_id", "list_id", "idx"],
            )
            half = ids[: changes // 2] if purpose == "revocation" else ids[changes // 2 :]
            chosen = set(half)
            for cid, (url, i) in zip(ids, indexes, strict=True):
                if cid in chosen:
                    expected.setdefault(url, set()).add(i)
    finally:
        await conn.close()
    return issuer_id, ids, expected


async def _wait_published(client: httpx.AsyncClient, expected: dict[str, set[int]], timeout: float) -> None:  # noqa: ASYNC109
    deadline = time.perf_counter() + timeout
    pending = dict(expected)
    while pending:
        for url, bits in list(pending.items()):
            response = await client.get(url)
            if response.status_code == 200:
                decoded = decode_list(response.json()["credentialSubject"]["encodedList"])
                raw = decoded.to_bytes()
                if sum(b.bit_count() for b in raw) == len(bits) and all(decoded.get(i) for i in bits):
                    del pending[url]
        if time.perf_counter() > deadline:
            raise SystemExit(f"lists not re-published within {timeout:.0f}s: {list(pending)}")
        await asyncio.sleep(0.05)


def _wrk(url: str, headers: dict[str, str], seconds: float, concurrency: int) -> tuple[float, str]:
    """wrk (Debian package `wrk`) when installed: a C load generator, so the figure is the
    service's and not the client's."""
    args = ["wrk", "-t2", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", url]
    for name, value in headers.items():
        args[1:1] = ["-H", f"{name}: {value}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert non_2xx is None, out
    return float(match.group(1)), f"wrk, 2 threads, {concurrency} connections, {seconds:.0f} s"


async def _python_client(
    url: str, headers: dict[str, str], seconds: float, concurrency: int
) -> tuple[float, str]:
    """httpx clients in this process (when wrk is not installed; the client is then the limit)."""
    count = 0
    end = time.perf_counter() + seconds
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as client:

        async def worker() -> None:
            nonlocal count
            while time.perf_counter() < end:
                response = await client.get(url, headers=headers)
                assert response.status_code in (200, 304)
                count += 1

        begin = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - begin
    return count / elapsed, f"{concurrency} httpx clients in one Python process, {elapsed:.1f} s"


async def run(stack: Stack, changes: int, batch: int, seconds: float, concurrency: int) -> None:
    issuer_id, ids, expected = await _setup(stack, changes)
    revocation = f"http://127.0.0.1:{stack.ports['revocation']}"
    print(f"set-up: issuer {issuer_id}, {changes:,} credentials with 2 entries each, {len(expected)} lists")
    updates = [
        {
            "credentialId": cid,
            "credentialStatus": [{"status": "revoked" if n < changes // 2 else "suspended"}],
            "reasonCode": "bench",
        }
        for n, cid in enumerate(ids)
    ]
    async with httpx.AsyncClient(base_url=revocation, headers=_operator(stack), timeout=600) as client:
        await asyncio.sleep(2.0)  # the new (empty) lists' first publication is not what we measure
        start = time.perf_counter()
        applied = 0
        for offset in range(0, changes, batch):
            response = await client.post(
                "/credentials/status/bulk", json={"updates": updates[offset : offset + batch]}
            )
            response.raise_for_status()
            applied += response.json()["summary"].get("applied", 0)
        applied_at = time.perf_counter()
        await _wait_published(client, expected, timeout=300)
        done = time.perf_counter()
    assert applied == changes, f"{applied} of {changes} applied"
    print(
        f"{changes:,} status changes applied in {applied_at - start:.2f} s "
        f"({changes / (applied_at - start):,.0f}/s); every affected list re-published and read back "
        f"after {done - start:.2f} s"
    )

    # The outbox relay now sends one credential.status-changed per change; measure the GETs after
    # it (it shares the service's event loop), and report how long the events took to leave.
    conn = await asyncpg.connect(
        stack.database_url("revocation"), server_settings={"search_path": "revocation"}
    )
    pending = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
    try:
        # Another process's table: polling is the only way to see it drain.
        while await conn.fetchval(pending):  # noqa: ASYNC110
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
    drained = time.perf_counter() - start
    print(f"every credential.status-changed event on Kafka {drained:.1f} s after the start")

    url = next(iter(expected))
    async with httpx.AsyncClient(timeout=30) as client:
        etag = (await client.get(url)).headers["etag"]
    for label, headers in (("full 200", {}), ("conditional 304", {"If-None-Match": etag})):
        if shutil.which("wrk"):
            rate, how = _wrk(url, headers, seconds, concurrency)
        else:
            rate, how = await _python_client(url, headers, seconds, concurrency)
        print(f"status list GET ({label}): {rate:,.0f} requests/s ({how})")
    print(f"measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="default")
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(
        run(Stack.for_profile(args.profile), args.changes, args.batch, args.seconds, args.concurrency)
    )


if __name__ == "__main__":
    main()
