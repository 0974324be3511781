"""Issuers' private keys, sealed at rest with the key-encryption key (KEK) from configuration.

AES-256-GCM with a random 96-bit nonce; the key id is the associated data, so a sealed secret
copied onto another key row does not open. The seed never leaves this module except inside an
`Ed25519Signer`, whose `repr` hides it; it is never logged, put in events or returned by the API.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x01"


class KeyringError(Exception):
    """The KEK is malformed, or a sealed key does not open with it."""


def _aead(kek_b64: str) -> AESGCM:
    try:
        kek = base64.urlsafe_b64decode(kek_b64 + "=" * (-len(kek_b64) % 4))
    except ValueError as error:
        raise KeyringError("the key-encryption key is not base64url") from error
    if len(kek) != 32:
        raise KeyringError("the key-encryption key must be 32 bytes (base64url-encoded)")
    return AESGCM(kek)


def seal(kek_b64: str, key_id: str, seed: bytes) -> bytes:
    nonce = os.urandom(12)
    return _VERSION + nonce + _aead(kek_b64).encrypt(nonce, seed, key_id.encode("utf-8"))


def unseal(kek_b64: str, key_id: str, sealed: bytes) -> bytes:
    if sealed[:1] != _VERSION or len(sealed) < 1 + 12 + 16:
        raise KeyringError(f"sealed key {key_id} has an unknown format")
    try:
        return _aead(kek_b64).decrypt(sealed[1:13], sealed[13:], key_id.encode("utf-8"))
    except InvalidTag as error:
        raise KeyringError(f"sealed key {key_id} does not open with the configured KEK") from error
