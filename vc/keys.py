"""Ed25519 keys as Multikey verification methods, and the resolution of verification methods.

A signer holds a 32-byte seed and the id of its verification method (for did:web issuers
`did:web:…#key-…`, for did:key `did:key:z6Mk…#z6Mk…`). Verifiers resolve a verification method id
to its public key, controller and the proof purposes its controller authorises it for.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vc import multibase

MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"
DID_CONTEXT = "https://www.w3.org/ns/did/v1"


def generate_seed() -> bytes:
    return os.urandom(32)


def public_key_of(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


@dataclass(frozen=True, slots=True)
class Ed25519Signer:
    """Signs with one Ed25519 key; `repr` never shows the seed."""

    verification_method: str
    seed: bytes = field(repr=False)
    _key: Ed25519PrivateKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_key", Ed25519PrivateKey.from_private_bytes(self.seed))

    @property
    def public_key_multibase(self) -> str:
        return multibase.encode_public_key(self._key.public_key().public_bytes_raw())

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)


def verify_signature(public_key: bytes, signature: bytes, data: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    """A verification method as its controller's document states it."""

    id: str
    controller: str
    public_key: bytes
    purposes: frozenset[str]


class KeyResolutionError(LookupError):
    """A verification method could not be resolved to an Ed25519 Multikey."""


class KeyResolver(Protocol):
    def resolve(self, verification_method: str) -> ResolvedKey: ...


def did_key_document(public_key_multibase: str) -> dict[str, Any]:
    """The DID document of a `did:key` Ed25519 identifier (did:key method, Multikey form)."""
    did = f"did:key:{public_key_multibase}"
    vm_id = f"{did}#{public_key_multibase}"
    return {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "verificationMethod": [
            {"id": vm_id, "type": "Multikey", "controller": did, "publicKeyMultibase": public_key_multibase}
        ],
        "authentication": [vm_id],
        "assertionMethod": [vm_id],
        "capabilityDelegation": [vm_id],
        "capabilityInvocation": [vm_id],
    }


_PURPOSES = ("assertionMethod", "authentication", "capabilityInvocation", "capabilityDelegation")


def keys_of_document(document: Mapping[str, Any]) -> dict[str, ResolvedKey]:
    """Every Multikey verification method of a DID (controller) document, with its purposes."""
    did = document.get("id")
    if not isinstance(did, str):
        raise KeyResolutionError("controller document has no id")
    methods: dict[str, Mapping[str, Any]] = {}
    for method in document.get("verificationMethod", []):
        if isinstance(method, Mapping) and isinstance(method.get("id"), str):
            methods[_absolute(did, method["id"])] = method
    purposes: dict[str, set[str]] = {vm_id: set() for vm_id in methods}
    for purpose in _PURPOSES:
        for entry in document.get(purpose, []):
            if isinstance(entry, str):
                purposes.setdefault(_absolute(did, entry), set()).add(purpose)
            elif isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
                vm_id = _absolute(did, entry["id"])
                methods[vm_id] = entry
                purposes.setdefault(vm_id, set()).add(purpose)
    resolved: dict[str, ResolvedKey] = {}
    for vm_id, method in methods.items():
        if method.get("type") != "Multikey" or not isinstance(method.get("publicKeyMultibase"), str):
            continue
        controller = method.get("controller")
        if not isinstance(controller, str):
            continue
        try:
            public_key = multibase.decode_public_key(method["publicKeyMultibase"])
        except multibase.MultibaseError:
            continue
        resolved[vm_id] = ResolvedKey(vm_id, controller, public_key, frozenset(purposes.get(vm_id, ())))
    return resolved


def _absolute(did: str, ref: str) -> str:
    return did + ref if ref.startswith("#") else ref


@dataclass(slots=True)
class StaticKeyResolver:
    """Resolves `did:key` by computation and other methods from the controller documents given."""

    documents: dict[str, ResolvedKey] = field(default_factory=dict)

    @classmethod
    def of(cls, documents: Iterable[Mapping[str, Any]] = ()) -> StaticKeyResolver:
        resolver = cls()
        for document in documents:
            resolver.add(document)
        return resolver

    def add(self, document: Mapping[str, Any]) -> None:
        self.documents.update(keys_of_document(document))

    def resolve(self, verification_method: str) -> ResolvedKey:
        known = self.documents.get(verification_method)
        if known is not None:
            return known
        if verification_method.startswith("did:key:"):
            did, _, fragment = verification_method.partition("#")
            key = did.removeprefix("did:key:")
            if fragment and fragment != key:
                raise KeyResolutionError(f"{verification_method} is not a did:key verification method")
            try:
                return keys_of_document(did_key_document(key))[f"{did}#{key}"]
            except (multibase.MultibaseError, KeyError) as error:
                raise KeyResolutionError(f"{verification_method} is not an Ed25519 did:key") from error
        raise KeyResolutionError(f"verification method {verification_method} cannot be resolved")
