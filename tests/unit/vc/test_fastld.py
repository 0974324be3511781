"""The fast JSON-LD to RDF path (`fastld`) against the reference: pyld's URDNA2015 and pyld's own
expansion, byte for byte, on generated credentials of every shape credstream issues; and the
fallback to the general path for everything the fast path does not handle."""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from pyld import jsonld  # type: ignore[import-untyped]

from tests.unit.vc import vectors
from tests.unit.vc.credential_strategies import URDNA2015_TEXT, credentials
from vc import fastld, multibase
from vc.fastld import Unsupported, canonical_document, term_quads
from vc.jsonld import ContextStore, JsonLdSafeModeError, default_store, to_quads
from vc.keys import Ed25519Signer, StaticKeyResolver, did_key_document
from vc.proofs import RDFC, create_proof, verify_proof
from vc.rdfc import canonicalize, canonicalize_terms

SEED = bytes(range(32))
_KEY = Ed25519Signer("x", SEED)
DID = did_key_document(_KEY.public_key_multibase)["id"]
SIGNER = Ed25519Signer(f"{DID}#{_KEY.public_key_multibase}", SEED)
CREATED = datetime(2026, 12, 2, 6, 0, 0, tzinfo=UTC)
# Fixed example budgets, so CI runs the same number of cases every time ("hundreds").
_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _loader(url: str, options: Any = None) -> dict[str, Any]:
    return {"contextUrl": None, "documentUrl": url, "document": default_store().documents[url]}


def pyld_urdna2015(document: dict[str, Any]) -> str:
    """The reference: pyld's own toRDF and URDNA2015, nothing of credstream's but the contexts."""
    options = {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": _loader}
    return str(jsonld.normalize(copy.deepcopy(document), options))


def general_path(document: dict[str, Any]) -> str:
    return canonicalize(to_quads(document))


def fast_path(document: dict[str, Any]) -> str:
    return canonicalize_terms(term_quads(document))  # raises Unsupported rather than fall back


def _proof_config(document: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": document["@context"],
        "type": "DataIntegrityProof",
        "cryptosuite": RDFC,
        "created": "2026-12-02T06:00:00Z",
        "verificationMethod": SIGNER.verification_method,
        "proofPurpose": "assertionMethod",
    }


@_SETTINGS
@given(credentials(URDNA2015_TEXT))
def test_fast_path_equals_pyld_urdna2015_and_signs_the_same_proof(document: dict[str, Any]) -> None:
    reference = pyld_urdna2015(document)
    assert fast_path(document) == reference
    # The proof: the fast path's proofValue equals a signature over pyld's canonical forms
    # (Ed25519 signatures are deterministic).
    expected_data = (
        hashlib.sha256(pyld_urdna2015(_proof_config(document)).encode()).digest()
        + hashlib.sha256(reference.encode()).digest()
    )
    signed = create_proof(document, signer=SIGNER, created=CREATED)
    assert signed["proof"]["proofValue"] == multibase.encode_multibase(SIGNER.sign(expected_data))
    assert verify_proof(signed, resolver=StaticKeyResolver()).cryptosuite == RDFC


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(credentials())
def test_fast_path_equals_the_general_path_for_any_unicode(document: dict[str, Any]) -> None:
    # Any text, including the controls that RDFC-1.0 escapes and URDNA2015 did not.
    assert fast_path(document) == general_path(document)


def test_the_1edtech_example_takes_the_fast_path() -> None:
    unsigned = {key: value for key, value in vectors.ob_signed().items() if key != "proof"}
    assert fast_path(unsigned) == pyld_urdna2015(unsigned)


def test_absolute_iris_as_types_take_the_fast_path() -> None:
    document = _with(["type"], ["VerifiableCredential", "OpenBadgeCredential", "urn:example:T"])
    assert fast_path(document) == pyld_urdna2015(document)


def test_terms_from_an_at_vocab_take_the_general_path() -> None:
    # The W3C example's types and properties come from the examples context's @vocab, which the
    # fast path does not follow (credstream's contexts define every term).
    store = default_store().with_extra({vectors.EXAMPLES_CONTEXT_URL: vectors.EXAMPLES_CONTEXT})
    with pytest.raises(Unsupported):
        term_quads(vectors.w3c_unsigned(), store=store)
    expected = vectors.read_text(vectors.W3C_DIR / "w3c-eddsa-rdfc-2022-canonical-document.nq")
    assert canonical_document(vectors.w3c_unsigned(), store=store) == expected


def _credential() -> dict[str, Any]:
    unsigned = {key: value for key, value in vectors.ob_signed().items() if key != "proof"}
    unsigned["credentialSubject"]["achievement"]["name"] = "Fallback"
    return unsigned


def _with(path: list[str], value: Any) -> dict[str, Any]:
    document = _credential()
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return document


_ENDORSEMENT = {
    "@context": [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ],
    "id": "urn:uuid:8a9a4a0c-2f70-4c4b-9f4d-5a1b8d6a3c11",
    "type": ["VerifiableCredential", "EndorsementCredential"],
    "issuer": {"id": "https://agency.example/issuer", "type": ["Profile"], "name": "Agency"},
    "validFrom": "2026-01-01T00:00:00Z",
    "credentialSubject": {
        "id": "https://example.org/x",
        "type": ["EndorsementSubject"],
        "endorsementComment": "ok",
    },
}

# Documents the general path accepts but the fast path does not handle: it must step aside.
FALLBACKS = {
    "value object with language": _with(["name"], {"@value": "Nimi", "@language": "fi"}),
    "value object with type": _with(["name"], {"@value": "5", "@type": "https://example.org/t"}),
    "blank node identifier": _with(["credentialSubject", "id"], "_:learner"),
    "absolute IRI as key": _with(["https://example.org/extra"], "x"),
    "keyword @index": _with(["credentialSubject", "@index"], "x"),
    "embedded credential with its own @context": _with(["endorsement"], [_ENDORSEMENT]),
    "keyword @graph": _with(["@graph"], []),
    "@list of @list": _with(["credentialSubject", "achievement", "resultDescription"], [
        {"type": ["ResultDescription"], "name": "r", "resultType": "Status", "allowedValue": [["a"], ["b"]]}
    ]),
}  # fmt: skip


@pytest.mark.parametrize("document", FALLBACKS.values(), ids=FALLBACKS.keys())
def test_what_the_fast_path_does_not_handle_takes_the_general_path(document: dict[str, Any]) -> None:
    with pytest.raises(Unsupported):
        term_quads(document)
    try:
        expected = general_path(document)
    except JsonLdSafeModeError as error:
        with pytest.raises(JsonLdSafeModeError, match=str(error)[:40]):
            canonical_document(document)
    else:
        assert canonical_document(document) == expected


# Documents no path accepts: the fast path steps aside and the general path's error comes out. (An
# undefined type or a relative id used to be resolved against pyld's default base IRI,
# http://example.org/base/, and signed; safe mode refuses them.)
REFUSED = {
    "term no context defines": _with(["credentialSubject", "favouriteColour"], "blue"),
    "type no context defines": _with(["type"], ["VerifiableCredential", "NoSuchType"]),
    "relative identifier": _with(["id"], "credentials/1"),
    "protected term redefined by an embedded context": _with(
        ["credentialSubject", "@context"], {"name": "urn:x"}
    ),
}


@pytest.mark.parametrize("document", REFUSED.values(), ids=REFUSED.keys())
def test_documents_both_paths_refuse_raise_the_general_paths_error(document: dict[str, Any]) -> None:
    with pytest.raises(Unsupported):
        term_quads(document)
    with pytest.raises(JsonLdSafeModeError):
        canonical_document(document)


def test_an_unpinned_context_is_refused_before_any_path() -> None:
    document = _with(["@context"], [*_credential()["@context"], "https://evil.example/context"])
    with pytest.raises(JsonLdSafeModeError, match="not one of the pinned contexts"):
        term_quads(document)


def test_fallback_is_taken_by_create_proof_and_gives_the_reference_signature() -> None:
    document = FALLBACKS["value object with language"]
    signed = create_proof(document, signer=SIGNER, created=CREATED)
    expected_data = (
        hashlib.sha256(pyld_urdna2015(_proof_config(document)).encode()).digest()
        + hashlib.sha256(pyld_urdna2015(document).encode()).digest()
    )
    assert signed["proof"]["proofValue"] == multibase.encode_multibase(SIGNER.sign(expected_data))


def test_derived_contexts_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    store = ContextStore(default_store().documents)  # a fresh store: nothing derived yet
    monkeypatch.setattr(fastld, "MAX_CONTEXTS", 2)
    with pytest.raises(Unsupported, match="derived contexts"):
        term_quads(_credential(), store=store)
    assert canonical_document(_credential(), store=store) == general_path(_credential())


# A test-only context with a type-scoped context that redefines a prefix and a property and adds an
# alias of @type; non-propagating, so it does not reach the nested node.
_SCOPED_URL = "https://example.org/contexts/scoped-test/v1"
_SCOPED = {
    "@context": {
        "@version": 1.1,
        "id": "@id",
        "type": "@type",
        "pfx": {"@id": "https://outer.example/", "@prefix": True},
        "label": "https://example.org/outer-label",
        "child": {"@id": "https://example.org/child"},
        "Thing": {
            "@id": "https://example.org/Thing",
            "@context": {
                "pfx": {"@id": "https://inner.example/", "@prefix": True},
                "label": "https://example.org/inner-label",
                "kind": "@type",
            },
        },
    }
}


def _scoped_reference(document: dict[str, Any]) -> str:
    documents = {_SCOPED_URL: _SCOPED}

    def loader(url: str, options: Any = None) -> dict[str, Any]:
        return {"contextUrl": None, "documentUrl": url, "document": documents[url]}

    options = {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": loader}
    return str(jsonld.normalize(copy.deepcopy(document), options))


def test_type_scoped_contexts_apply_to_their_node_only() -> None:
    store = default_store().with_extra({_SCOPED_URL: _SCOPED})
    document = {
        "@context": [_SCOPED_URL],
        "id": "pfx:a",
        "type": "Thing",
        "label": "inner",
        "child": {"id": "pfx:b", "label": "outer"},
    }
    reference = _scoped_reference(document)
    assert "<https://inner.example/a> <https://example.org/inner-label>" in reference
    assert "<https://outer.example/b> <https://example.org/outer-label>" in reference
    assert canonicalize_terms(term_quads(document, store=store)) == reference


def test_an_alias_of_type_from_a_type_scoped_context_takes_the_general_path() -> None:
    store = default_store().with_extra({_SCOPED_URL: _SCOPED})
    document = {
        "@context": [_SCOPED_URL],
        "id": "pfx:a",
        "type": "Thing",
        "kind": "https://example.org/Other",
    }
    with pytest.raises(Unsupported, match="@type in one context"):
        term_quads(document, store=store)
    assert canonical_document(document, store=store) == _scoped_reference(document)
