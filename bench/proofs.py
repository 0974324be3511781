"""Proof creation and verification per core, both cryptosuites, on a typical micro-credential, and
Digital Bazaar's JavaScript eddsa-rdfc-2022 signer on the same credential, key and contexts.

    python -m bench.proofs [--seconds 5] [--no-js]

Single process, single thread (one core); the Node signer runs after the Python figures, alone.
Rates are per CPU second of the measuring process (Python `time.process_time`, Node
`process.cpuUsage`), so that other load on a shared machine does not count.
The credential is what the issuance service builds for the seed's "Data Literacy Foundations"
achievement, with a revocation and a suspension status entry (about 60 quads). "verify + status"
is the proof plus both status entries read from a cached, already verified status list; the next
row adds the rest of what `POST /credentials/verify` checks (validity window, profile JSON Schema).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from contracts.ids import credential_id
from services.issuance.credential import build_credential
from services.issuance.domain import Award, IssuerProfile, Learner, MicroCredentialSpec
from services.issuance.fetch_guard import FetchPolicy
from services.issuance.verification import VerificationResult, check_status, http_fetcher, verify_credential
from vc import jsonld, status
from vc.fastld import term_quads
from vc.jsonld import to_quads
from vc.keys import Ed25519Signer, StaticKeyResolver, did_key_document, generate_seed
from vc.proofs import JCS, RDFC, create_proof, verify_proof
from vc.rdfc import canonicalize
from vc.status import status_entry as entry

INTEROP = Path(__file__).resolve().parents[1] / "tests" / "interop"
LIST_URL = "https://bench.example/status/1"


def _rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per CPU second of this (single-threaded) process, run for `seconds` of wall time:
    on a shared machine, time spent waiting for a core is not counted against us."""
    operation()  # warm caches (parsed contexts)
    count, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        operation()
        count += 1
    return count / (time.process_time() - cpu)


async def _rate_async(operation: Callable[[], Awaitable[object]], seconds: float) -> float:
    await operation()
    count, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        await operation()
        count += 1
    return count / (time.process_time() - cpu)


def _credential(did: str, now: datetime) -> dict[str, Any]:
    spec = MicroCredentialSpec.model_validate(
        {
            "achievement_id": "data-literacy-101", "issuer_id": "bench", "name": "Data Literacy Foundations",
            "description": "Reading, questioning and presenting data.", "criteria_narrative": "Pass both.",
            "criteria": {"required_activity_ids": ["quiz", "exam"], "min_scaled_score": 0.6},
            "learning_outcomes": [{"outcome": "Interpret statistics."}, {"outcome": "Spot bad charts."}],
            "ects_credits": 2, "workload_hours": 50, "eqf_level": 5, "assessment_type": "online-test",
            "participation_form": "online", "supervision": "supervised-identity-check-online",
            "valid_for_days": 1825,
        }
    )  # fmt: skip
    return build_credential(
        credential_id=credential_id("bench"),
        issuer=IssuerProfile(issuer_id="bench", name="Bench University", country_code="FI"),
        issuer_did=did,
        spec=spec,
        achievement_url="https://bench.example/achievements/data-literacy-101",
        award=Award("bench", "bench", "data-literacy-101", 1, Learner("s-1", "s1@example.org"), now),
        issued_at=now,
        salt="00" * 16,
        status_entries=[entry(LIST_URL, 17, "revocation"), entry(LIST_URL, 18, "suspension")],
    )


def _status_list(did: str, signer: Ed25519Signer, now: datetime) -> dict[str, Any]:
    unsigned = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": LIST_URL,
        "type": ["VerifiableCredential", status.LIST_TYPE],
        "issuer": did,
        "validFrom": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "credentialSubject": {
            "id": f"{LIST_URL}#list",
            "type": "BitstringStatusList",
            "statusPurpose": ["revocation", "suspension"],
            "encodedList": status.Bitstring().encode(),
        },
    }
    return create_proof(unsigned, signer=signer)


async def _verify_with_status_rates(
    signed: dict[str, Any], status_list: dict[str, Any], seconds: float
) -> tuple[float, float]:
    """(proof + status, the verify endpoint's checks: proof, validity, profile schema, status)."""
    resolver = StaticKeyResolver()
    cache = status.ListCache(default_ttl_s=3600)
    cache.put(LIST_URL, status_list)
    async with httpx.AsyncClient() as client:  # never used: the list is in the cache
        fetch = http_fetcher(client, cache, FetchPolicy(()))

        async def resolver_for(document: dict[str, Any]) -> StaticKeyResolver:
            return resolver

        async def proof_and_status() -> None:
            result = VerificationResult()
            verify_proof(signed, resolver=resolver)
            await check_status(signed, result, fetch=fetch, resolver_for=resolver_for, cache=cache)
            if not result.verified or result.status != {"revocation": "valid", "suspension": "valid"}:
                raise RuntimeError(f"the bench credential's status does not verify: {result.as_json()}")

        async def endpoint() -> None:
            result = verify_credential(signed, resolver=resolver)
            await check_status(signed, result, fetch=fetch, resolver_for=resolver_for, cache=cache)
            if not result.verified or result.status != {"revocation": "valid", "suspension": "valid"}:
                raise RuntimeError(f"the bench credential does not verify: {result.as_json()}")

        return await _rate_async(proof_and_status, seconds), await _rate_async(endpoint, seconds)


def _digital_bazaar(document: dict[str, Any], seed: bytes, created: str, seconds: float) -> dict[str, Any]:
    """Run tests/interop/sign-bench.mjs (needs `npm ci` in tests/interop) on the same input."""
    node = shutil.which("node")
    if node is None or not (INTEROP / "node_modules").is_dir():
        raise RuntimeError("needs node and `npm ci` in tests/interop (tests/run does it)")
    with tempfile.TemporaryDirectory(prefix="credstream-bench-") as tmp:
        credential = Path(tmp) / "credential.json"
        credential.write_text(json.dumps(document))
        args = [node, str(INTEROP / "sign-bench.mjs"), "--credential", str(credential)]
        args += ["--seed", seed.hex(), "--created", created, "--seconds", str(seconds)]
        for number, url in enumerate(jsonld.default_store().urls()):
            path = Path(tmp) / f"context-{number}.jsonld"
            path.write_bytes(jsonld.context_document(url))
            args += ["--context", f"{url}={path}"]
        run = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 120, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"sign-bench.mjs failed: {run.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--no-js", action="store_true", help="skip Digital Bazaar's signer")
    args = parser.parse_args()
    seed = generate_seed()
    public_key = Ed25519Signer("x", seed).public_key_multibase
    did = did_key_document(public_key)["id"]
    signer = Ed25519Signer(f"{did}#{public_key}", seed)
    now = datetime.now(UTC).replace(microsecond=0)
    document = _credential(did, now)
    quads = to_quads(document)
    print(f"credential: {len(quads)} quads; one core, {args.seconds:.0f} s per figure, rates per CPU second")
    print(f"  JSON-LD to RDF, general path (pyld)  {_rate(lambda: to_quads(document), args.seconds):8.0f} /s")
    print(
        f"  JSON-LD to RDF, fast path (fastld)   {_rate(lambda: term_quads(document), args.seconds):8.0f} /s"
    )
    print(
        f"  RDFC-1.0 canonicalization            {_rate(lambda: canonicalize(quads), args.seconds):8.0f} /s"
    )
    resolver = StaticKeyResolver()
    rdfc_create = 0.0
    for suite in (RDFC, JCS):
        signed = create_proof(document, signer=signer, cryptosuite=suite)
        create = _rate(partial(create_proof, document, signer=signer, cryptosuite=suite), args.seconds)
        verify = _rate(partial(verify_proof, signed, resolver=resolver), args.seconds)
        rdfc_create = create if suite == RDFC else rdfc_create
        print(f"  {suite:<16} create {create:8.0f} proofs/s   verify {verify:8.0f} proofs/s")
    signed = create_proof(document, signer=signer, created=now)
    status_list = _status_list(did, signer, now)
    with_status, endpoint = asyncio.run(_verify_with_status_rates(signed, status_list, args.seconds))
    print(
        f"  eddsa-rdfc-2022  verify proof + status (2 entries, cached list) {with_status:8.0f} credentials/s"
    )
    print(f"  the same + validity + profile JSON Schema (/credentials/verify)  {endpoint:8.0f} credentials/s")
    if args.no_js:
        return
    theirs = _digital_bazaar(document, seed, signed["proof"]["created"], args.seconds)
    same = "identical" if theirs["proof"] == signed["proof"] else "DIFFERENT"
    print(
        f"  Digital Bazaar @digitalbazaar/vc (Node {_node_version()}) eddsa-rdfc-2022 create "
        f"{theirs['proofsPerSecond']:8.0f} proofs/s ({theirs['wallProofsPerSecond']:.0f}/s wall); "
        f"credstream/Digital Bazaar = "
        f"{rdfc_create / theirs['proofsPerSecond']:.1f}x; first proof {same} to credstream's"
    )


def _node_version() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()


if __name__ == "__main__":
    main()
