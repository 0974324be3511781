"""The independent verifier itself must be trustworthy: it accepts the specifications' signed
vectors and rejects tampered ones (otherwise "their verifier accepts ours" would prove nothing)."""

from __future__ import annotations

import copy

from services.runtime.vc import multibase
from services.runtime.vc.keys import Ed25519Signer, did_key_document
from services.runtime.vc.proofs import JCS, RDFC, create_proof
from tests.fixtures.interop import verify_with_digitalbazaar
from tests.unit.vc import vectors


def test_the_1edtech_open_badges_vector_verifies_and_a_tampered_copy_does_not() -> None:
    good = vectors.ob_signed()
    tampered = copy.deepcopy(good)
    tampered["credentialSubject"]["achievement"]["name"] = "Leadership"
    bad_signature = copy.deepcopy(good)
    bad_signature["proof"]["proofValue"] = "z" + "2" * 86
    results = verify_with_digitalbazaar(
        [good, tampered, bad_signature], did_documents=[vectors.ob_controller_document()]
    )
    assert [r.verified for r in results] == [True, False, False], results


def test_our_proofs_on_an_open_badge_verify_in_both_cryptosuites() -> None:
    # A did:key issuer, so that Digital Bazaar's checks (issuer = key controller) apply fully.
    seed = multibase.decode_secret_key(vectors.W3C_SECRET_KEY)
    did = did_key_document(vectors.W3C_PUBLIC_KEY)["id"]
    signer = Ed25519Signer(f"{did}#{vectors.W3C_PUBLIC_KEY}", seed)
    unsigned = {key: value for key, value in vectors.ob_signed().items() if key != "proof"}
    unsigned["issuer"] = {**unsigned["issuer"], "id": did}
    signed = [create_proof(unsigned, signer=signer, cryptosuite=suite) for suite in (RDFC, JCS)]
    tampered = copy.deepcopy(signed[0])
    tampered["validFrom"] = "2011-01-01T00:00:00Z"
    results = verify_with_digitalbazaar([*signed, tampered])
    assert [r.verified for r in results] == [True, True, False], results
