"""Data Integrity EdDSA proofs: known answers from the specifications, round trips and tampering."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.unit.vc import vectors
from vc import multibase
from vc.jsonld import ContextStore, default_store
from vc.keys import Ed25519Signer, StaticKeyResolver, generate_seed
from vc.proofs import JCS, RDFC, ProofError, create_proof, verify_proof

CREATED = datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC)


@pytest.fixture(scope="module")
def store() -> ContextStore:
    return default_store().with_extra({vectors.EXAMPLES_CONTEXT_URL: vectors.EXAMPLES_CONTEXT})


@pytest.fixture(scope="module")
def w3c_signer() -> Ed25519Signer:
    return Ed25519Signer(vectors.W3C_VM, multibase.decode_secret_key(vectors.W3C_SECRET_KEY))


def test_w3c_key_pair_is_consistent(w3c_signer: Ed25519Signer) -> None:
    assert w3c_signer.public_key_multibase == vectors.W3C_PUBLIC_KEY


def test_signing_the_w3c_rdfc_vector_reproduces_its_proof_value(
    store: ContextStore, w3c_signer: Ed25519Signer
) -> None:
    signed = create_proof(
        vectors.w3c_unsigned(), signer=w3c_signer, cryptosuite=RDFC, created=CREATED, store=store
    )
    assert signed["proof"] == vectors.W3C_RDFC_PROOF


def test_w3c_rdfc_vector_verifies(store: ContextStore) -> None:
    signed = {**vectors.w3c_unsigned(), "proof": vectors.W3C_RDFC_PROOF}
    verified = verify_proof(signed, resolver=StaticKeyResolver(), store=store)
    assert verified.controller == f"did:key:{vectors.W3C_PUBLIC_KEY}"
    assert verified.cryptosuite == RDFC


def test_w3c_jcs_vector_verifies(store: ContextStore) -> None:
    signed = {**vectors.w3c_unsigned(), "proof": vectors.W3C_JCS_PROOF}
    assert verify_proof(signed, resolver=StaticKeyResolver(), store=store).cryptosuite == JCS


def test_signing_the_w3c_jcs_vector_reproduces_its_proof(
    w3c_signer: Ed25519Signer, store: ContextStore
) -> None:
    unsigned = vectors.w3c_unsigned()
    signed = create_proof(unsigned, signer=w3c_signer, cryptosuite=JCS, created=CREATED, store=store)
    assert signed["proof"] == vectors.W3C_JCS_PROOF
    assert verify_proof(signed, resolver=StaticKeyResolver(), store=store).cryptosuite == JCS


def test_1edtech_open_badges_vector_verifies() -> None:
    resolver = StaticKeyResolver.of([vectors.ob_controller_document()])
    verified = verify_proof(vectors.ob_signed(), resolver=resolver)
    assert verified.controller == vectors.OB_ISSUER


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))
    else:
        yield path


def _mutated(document: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    target: Any = changed
    for step in path[:-1]:
        target = target[step]
    value = target[path[-1]]
    target[path[-1]] = (
        (value + "x") if isinstance(value, str) else (not value if isinstance(value, bool) else value)
    )
    return changed


@pytest.mark.parametrize("suite", [RDFC, JCS])
def test_every_field_change_fails_verification(suite: str, store: ContextStore) -> None:
    signer = Ed25519Signer(f"did:key:{vectors.W3C_PUBLIC_KEY}#{vectors.W3C_PUBLIC_KEY}",
                           multibase.decode_secret_key(vectors.W3C_SECRET_KEY))  # fmt: skip
    signed = create_proof(vectors.w3c_unsigned(), signer=signer, cryptosuite=suite, store=store)
    paths = [p for p in _leaves(signed) if p[0] != "proof" or p[-1] in {"created"}]
    assert len(paths) >= 10
    for path in paths:
        with pytest.raises(ProofError) as excinfo:
            verify_proof(_mutated(signed, path), resolver=StaticKeyResolver(), store=store)
        assert excinfo.value.code in {"SIGNATURE_INVALID", "JSONLD_INVALID", "MALFORMED_PROOF"}, path


def _signed(store: ContextStore) -> tuple[dict[str, Any], Ed25519Signer]:
    signer = Ed25519Signer(vectors.W3C_VM, multibase.decode_secret_key(vectors.W3C_SECRET_KEY))
    return create_proof(vectors.w3c_unsigned(), signer=signer, store=store), signer


def _code(document: dict[str, Any], store: ContextStore, **kwargs: Any) -> str:
    with pytest.raises(ProofError) as excinfo:
        verify_proof(document, resolver=kwargs.pop("resolver", StaticKeyResolver()), store=store, **kwargs)
    return excinfo.value.code


def test_a_wrong_key_fails(store: ContextStore) -> None:
    signed, _ = _signed(store)
    other = Ed25519Signer("x", generate_seed()).public_key_multibase
    signed["proof"]["verificationMethod"] = f"did:key:{other}#{other}"
    assert _code(signed, store) == "SIGNATURE_INVALID"


def test_a_wrong_cryptosuite_fails(store: ContextStore) -> None:
    signed, _ = _signed(store)
    signed["proof"]["cryptosuite"] = JCS  # the signature was made over RDFC canonical forms
    assert _code(signed, store) == "SIGNATURE_INVALID"
    signed["proof"]["cryptosuite"] = "ecdsa-rdfc-2019"
    assert _code(signed, store) == "CRYPTOSUITE_UNSUPPORTED"


def test_a_wrong_proof_purpose_fails(store: ContextStore) -> None:
    signed, _ = _signed(store)
    signed["proof"]["proofPurpose"] = "authentication"
    assert _code(signed, store) == "PROOF_PURPOSE_MISMATCH"
    signed, _ = _signed(store)
    assert _code(signed, store, expected_purpose="authentication") == "PROOF_PURPOSE_MISMATCH"


def test_a_missing_context_fails(store: ContextStore) -> None:
    signed, _ = _signed(store)
    signed["@context"] = ["https://www.w3.org/ns/credentials/v2"]  # examples context dropped
    assert _code(signed, store) == "JSONLD_INVALID"  # alumniOf is then undefined
    del signed["@context"]
    assert _code(signed, store) == "JSONLD_INVALID"


def test_a_context_the_loader_does_not_have_fails(store: ContextStore) -> None:
    signed, _ = _signed(store)
    signed["@context"] = [*signed["@context"], "https://evil.example/context.jsonld"]
    error = _code(signed, store)
    assert error == "JSONLD_INVALID"


def test_an_undefined_term_is_refused_when_issuing_and_verifying(w3c_signer: Ed25519Signer) -> None:
    document = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": "did:example:issuer",
        "credentialSubject": {"id": "did:example:subject", "undefinedTerm": "dropped by a lax processor"},
    }
    with pytest.raises(ProofError) as excinfo:
        create_proof(document, signer=w3c_signer)
    assert excinfo.value.code == "JSONLD_INVALID"
    assert "undefinedTerm" in excinfo.value.message


def test_an_embedded_context_is_refused(w3c_signer: Ed25519Signer) -> None:
    document = {
        "@context": ["https://www.w3.org/ns/credentials/v2", {"foo": "https://example.org/foo"}],
        "type": ["VerifiableCredential"],
        "issuer": "did:example:issuer",
        "credentialSubject": {"id": "did:example:subject", "foo": "bar"},
    }
    with pytest.raises(ProofError) as excinfo:
        create_proof(document, signer=w3c_signer)
    assert excinfo.value.code == "JSONLD_INVALID"


def test_a_key_not_authorised_for_assertion_fails(store: ContextStore) -> None:
    document = vectors.ob_signed()
    controller = vectors.ob_controller_document()
    controller["assertionMethod"] = []
    controller["authentication"] = [document["proof"]["verificationMethod"]]
    assert (
        _code(document, store, resolver=StaticKeyResolver.of([controller]))
        == "VERIFICATION_METHOD_NOT_AUTHORIZED"
    )


def test_an_unresolvable_verification_method_fails(store: ContextStore) -> None:
    assert _code(vectors.ob_signed(), store) == "VERIFICATION_METHOD_UNRESOLVED"


def test_a_malformed_proof_value_fails(store: ContextStore) -> None:
    signed, _ = _signed(store)
    signed["proof"]["proofValue"] = "u" + signed["proof"]["proofValue"][1:]
    assert _code(signed, store) == "MALFORMED_PROOF"
    del signed["proof"]
    assert _code(signed, store) == "PROOF_MISSING"
