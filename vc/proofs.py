"""Data Integrity proofs with the EdDSA cryptosuites (W3C "Data Integrity EdDSA Cryptosuites v1.0").

`eddsa-rdfc-2022`: both the proof configuration (the proof options plus the document's `@context`)
and the document without its proof are canonicalized with RDFC-1.0; the data signed is
SHA-256(canonical proof configuration) || SHA-256(canonical document). `eddsa-jcs-2022` does the
same with the JSON Canonicalization Scheme instead of RDF. The proof value is the base58btc
multibase of the 64-byte Ed25519 signature.

Every failure is a `ProofError` with a stable `code`, so an API can tell a caller precisely why.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vc import jcs, multibase
from vc.fastld import canonical_document
from vc.jsonld import ContextStore, JsonLdLimitError, JsonLdSafeModeError, default_store
from vc.keys import Ed25519Signer, KeyResolutionError, KeyResolver, verify_signature
from vc.rdfc import DEFAULT_LIMITS, CanonicalizationLimitError, CanonLimits

RDFC = "eddsa-rdfc-2022"
JCS = "eddsa-jcs-2022"
CRYPTOSUITES = (RDFC, JCS)
PROOF_TYPE = "DataIntegrityProof"


class ProofError(ValueError):
    """A proof could not be created or did not verify; `code` says which rule failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class VerifiedProof:
    verification_method: str
    controller: str
    cryptosuite: str
    created: str | None


def _rdfc(document: Mapping[str, Any], store: ContextStore | None, limits: CanonLimits) -> bytes:
    try:
        return canonical_document(document, store=store, limits=limits).encode("utf-8")
    except JsonLdSafeModeError as error:
        raise ProofError("JSONLD_INVALID", str(error)) from error
    except (JsonLdLimitError, CanonicalizationLimitError) as error:
        raise ProofError("CANONICALIZATION_LIMIT", str(error)) from error


# SHA-256 of canonical proof configurations, by their exact content. Within one second every proof
# of one key has the same configuration (type, cryptosuite, created, verificationMethod,
# proofPurpose, @context), so bulk issuance canonicalizes it once per second instead of per proof.
_CONFIG_HASHES: dict[tuple[Any, ...], bytes] = {}
_CONFIG_HASHES_MAX = 1024


def _config_hash(proof_config: Mapping[str, Any], store: ContextStore | None, limits: CanonLimits) -> bytes:
    key: tuple[Any, ...] | None = None
    if store is None or store is default_store():
        items: list[tuple[str, Any]] = []
        for name, value in proof_config.items():
            if isinstance(value, list) and all(isinstance(item, str) for item in value):
                items.append((name, tuple(value)))
            elif isinstance(value, str):
                items.append((name, value))
            else:
                break
        else:
            key = (limits, *sorted(items))
    if key is not None and (cached := _CONFIG_HASHES.get(key)) is not None:
        return cached
    digest = hashlib.sha256(_rdfc(proof_config, store, limits)).digest()
    if key is not None:
        if len(_CONFIG_HASHES) >= _CONFIG_HASHES_MAX:
            _CONFIG_HASHES.clear()
        _CONFIG_HASHES[key] = digest
    return digest


def _jcs(document: Mapping[str, Any]) -> bytes:
    try:
        return jcs.canonicalize(document)
    except jcs.JcsError as error:
        raise ProofError("JCS_INVALID", str(error)) from error


def hash_data(
    document: Mapping[str, Any],
    proof_config: Mapping[str, Any],
    *,
    cryptosuite: str,
    store: ContextStore | None = None,
    limits: CanonLimits = DEFAULT_LIMITS,
) -> bytes:
    """SHA-256(canonical proof configuration) || SHA-256(canonical document) (vc-di-eddsa 3.3.4)."""
    if cryptosuite == RDFC:
        return (
            _config_hash(proof_config, store, limits)
            + hashlib.sha256(_rdfc(document, store, limits)).digest()
        )
    if cryptosuite == JCS:
        return hashlib.sha256(_jcs(proof_config)).digest() + hashlib.sha256(_jcs(document)).digest()
    raise ProofError("CRYPTOSUITE_UNSUPPORTED", f"cryptosuite {cryptosuite!r} is not supported")


def _check_datetime(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise ProofError("MALFORMED_PROOF", f"proof.{name} must be an XML Schema dateTime string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise ProofError("MALFORMED_PROOF", f"proof.{name} is not a valid dateTime") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def create_proof(
    document: Mapping[str, Any],
    *,
    signer: Ed25519Signer,
    cryptosuite: str = RDFC,
    proof_purpose: str = "assertionMethod",
    created: datetime | None = None,
    store: ContextStore | None = None,
    limits: CanonLimits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """Return `document` with an embedded `DataIntegrityProof` (vc-di-eddsa 3.2.1 / 3.3.1)."""
    if "proof" in document:
        raise ProofError("ALREADY_SIGNED", "the document already carries a proof")
    if "@context" not in document:
        raise ProofError("JSONLD_INVALID", "the document has no @context")
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": cryptosuite,
        "created": (created or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "verificationMethod": signer.verification_method,
        "proofPurpose": proof_purpose,
    }
    if cryptosuite == JCS:
        # eddsa-jcs-2022 proofs carry the document's @context (as the W3C test vector does); a
        # verifier takes the proof configuration from the proof as it stands.
        proof["@context"] = document["@context"]
    proof_config = {**proof, "@context": document["@context"]}
    data = hash_data(document, proof_config, cryptosuite=cryptosuite, store=store, limits=limits)
    proof["proofValue"] = multibase.encode_multibase(signer.sign(data))
    return {**document, "proof": proof}


def verify_proof(
    secured: Mapping[str, Any],
    *,
    resolver: KeyResolver,
    expected_purpose: str = "assertionMethod",
    store: ContextStore | None = None,
    limits: CanonLimits = DEFAULT_LIMITS,
    now: datetime | None = None,
) -> VerifiedProof:
    """Verify the one embedded proof of `secured` (vc-di-eddsa 3.2.2 / 3.3.2); raise `ProofError`."""
    proof = secured.get("proof")
    if isinstance(proof, list):
        if len(proof) != 1:
            raise ProofError("MALFORMED_PROOF", "exactly one proof is supported, not a proof set or chain")
        proof = proof[0]
    if not isinstance(proof, Mapping):
        raise ProofError("PROOF_MISSING", "the document has no proof")
    if proof.get("type") != PROOF_TYPE:
        raise ProofError("PROOF_TYPE_UNSUPPORTED", f"proof.type must be {PROOF_TYPE}")
    cryptosuite = proof.get("cryptosuite")
    if cryptosuite not in CRYPTOSUITES:
        raise ProofError("CRYPTOSUITE_UNSUPPORTED", f"cryptosuite {cryptosuite!r} is not supported")
    if proof.get("proofPurpose") != expected_purpose:
        raise ProofError(
            "PROOF_PURPOSE_MISMATCH",
            f"proofPurpose is {proof.get('proofPurpose')!r}, expected {expected_purpose!r}",
        )
    proof_value = proof.get("proofValue")
    if not isinstance(proof_value, str):
        raise ProofError("MALFORMED_PROOF", "proof.proofValue is missing")
    try:
        signature = multibase.decode_multibase(proof_value)
    except multibase.MultibaseError as error:
        raise ProofError("MALFORMED_PROOF", f"proof.proofValue: {error}") from error
    if len(signature) != 64:
        raise ProofError("MALFORMED_PROOF", "proof.proofValue is not a 64-byte Ed25519 signature")
    created = proof.get("created")
    moment = now or datetime.now(UTC)
    if created is not None:
        _check_datetime(created, "created")
    if proof.get("expires") is not None and _check_datetime(proof["expires"], "expires") < moment:
        raise ProofError("PROOF_EXPIRED", "the proof has expired")

    unsecured = {key: value for key, value in secured.items() if key != "proof"}
    options = {key: value for key, value in proof.items() if key != "proofValue"}
    if "@context" in options:
        proof_ctx = _as_list(options["@context"])
        if _as_list(secured.get("@context"))[: len(proof_ctx)] != proof_ctx:
            raise ProofError("CONTEXT_MISMATCH", "the document's @context does not start with the proof's")
        unsecured["@context"] = options["@context"]
    options["@context"] = unsecured.get("@context")

    vm_id = proof.get("verificationMethod")
    if not isinstance(vm_id, str):
        raise ProofError("MALFORMED_PROOF", "proof.verificationMethod is missing")
    try:
        key = resolver.resolve(vm_id)
    except KeyResolutionError as error:
        raise ProofError("VERIFICATION_METHOD_UNRESOLVED", str(error)) from error
    if expected_purpose not in key.purposes:
        raise ProofError(
            "VERIFICATION_METHOD_NOT_AUTHORIZED",
            f"{vm_id} is not listed under {expected_purpose} by its controller {key.controller}",
        )
    data = hash_data(unsecured, options, cryptosuite=str(cryptosuite), store=store, limits=limits)
    if not verify_signature(key.public_key, signature, data):
        raise ProofError("SIGNATURE_INVALID", "the signature does not match the document and key")
    return VerifiedProof(vm_id, key.controller, str(cryptosuite), created)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
