"""Proof creation and verification per core, both cryptosuites, on a typical micro-credential.

    python -m bench.proofs [--seconds 5]

Single process, single thread (one core). The credential is what the issuance service builds for
the seed's "Data Literacy Foundations" achievement (about 60 quads).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from services.issuance.credential import build_credential
from services.issuance.domain import Award, IssuerProfile, Learner, MicroCredentialSpec, credential_id
from services.runtime.vc.jsonld import to_quads
from services.runtime.vc.keys import Ed25519Signer, StaticKeyResolver, did_key_document, generate_seed
from services.runtime.vc.proofs import JCS, RDFC, create_proof, verify_proof
from services.runtime.vc.rdfc import canonicalize


def _rate(operation: Callable[[], object], seconds: float) -> float:
    operation()  # warm caches (parsed contexts)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        operation()
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    signer_key = Ed25519Signer("x", generate_seed())
    did = did_key_document(signer_key.public_key_multibase)["id"]
    signer = Ed25519Signer(f"{did}#{signer_key.public_key_multibase}", signer_key.seed)
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
    now = datetime.now(UTC)
    document = build_credential(
        credential_id=credential_id("bench"),
        issuer=IssuerProfile(issuer_id="bench", name="Bench University", country_code="FI"),
        issuer_did=did,
        spec=spec,
        achievement_url="https://bench.example/achievements/data-literacy-101",
        award=Award("bench", "bench", "data-literacy-101", 1, Learner("s-1", "s1@example.org"), now),
        issued_at=now,
        salt="00" * 16,
    )
    quads = to_quads(document)
    print(f"credential: {len(quads)} quads; one core, {args.seconds:.0f} s per figure")
    print(f"  JSON-LD to RDF (pyld expansion)   {_rate(lambda: to_quads(document), args.seconds):8.0f} /s")
    print(f"  RDFC-1.0 canonicalization         {_rate(lambda: canonicalize(quads), args.seconds):8.0f} /s")
    resolver = StaticKeyResolver()
    for suite in (RDFC, JCS):
        signed = create_proof(document, signer=signer, cryptosuite=suite)
        create = _rate(partial(create_proof, document, signer=signer, cryptosuite=suite), args.seconds)
        verify = _rate(partial(verify_proof, signed, resolver=resolver), args.seconds)
        print(f"  {suite:<16} create {create:8.0f} proofs/s   verify {verify:8.0f} proofs/s")


if __name__ == "__main__":
    main()
