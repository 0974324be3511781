"""Issuers' private keys, sealed at rest by envelope encryption under a key-encryption key (KEK).

Each Ed25519 seed is sealed with AES-256-GCM under the active KEK, with a random 96-bit nonce.
The sealed form names the KEK by id, so the KEK can be rotated: a new KEK becomes active (new keys
are sealed under it), the old one stays configured as a *previous* KEK so every stored key still
opens, and `python -m services.issuance.rekey` re-wraps every stored key under the active KEK, after
which the old KEK can be dropped (docs/http-security.md, "KEK rotation").

Sealed format, version 2: `0x02 | len(kek_id) | kek_id | nonce(12) | ciphertext+tag`; the
associated data is `key_id 0x00 kek_id`, so a sealed secret copied onto another key row, or
relabelled with another KEK id, does not open. Version 1 (`0x01 | nonce | ciphertext`, associated
data the key id, no KEK id) is still read: it is tried with every configured KEK.

The seed never leaves this module except inside an `Ed25519Signer`, whose `repr` hides it; it is
never logged, put in events or returned by the API, and neither is a KEK (`SecretStr` settings).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.runtime.errors import DomainError

_V1 = b"\x01"
_V2 = b"\x02"
_NONCE = 12
_TAG = 16


class KeyringError(DomainError):
    """A KEK is malformed, or a sealed key does not open with the configured KEKs."""

    def __init__(self, message: str) -> None:
        super().__init__("key_unavailable", message)


def _aead(kek_b64: str) -> AESGCM:
    try:
        kek = base64.urlsafe_b64decode(kek_b64 + "=" * (-len(kek_b64) % 4))
    except ValueError as error:
        raise KeyringError("a key-encryption key is not base64url") from error
    if len(kek) != 32:
        raise KeyringError("a key-encryption key must be 32 bytes (base64url-encoded)")
    return AESGCM(kek)


class Keyring:
    """The active KEK (id and key) and the previous ones still accepted for opening."""

    def __init__(
        self, active_id: str, active_kek_b64: str, previous: Mapping[str, str] | None = None
    ) -> None:
        if not active_id or len(active_id.encode()) > 255:
            raise KeyringError("a KEK id is 1 to 255 bytes")
        self.active_id = active_id
        self._keks = {kek_id: _aead(kek) for kek_id, kek in (previous or {}).items()}
        self._keks[active_id] = _aead(active_kek_b64)

    def __repr__(self) -> str:
        return f"Keyring(active={self.active_id!r}, known={sorted(self._keks)!r})"

    def seal(self, key_id: str, seed: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        kek_id = self.active_id.encode()
        aad = key_id.encode("utf-8") + b"\x00" + kek_id
        return (
            _V2 + bytes([len(kek_id)]) + kek_id + nonce + self._keks[self.active_id].encrypt(nonce, seed, aad)
        )

    def unseal(self, key_id: str, sealed: bytes) -> bytes:
        if sealed[:1] == _V1 and len(sealed) >= 1 + _NONCE + _TAG:
            for candidate in self._keks.values():
                try:
                    return candidate.decrypt(
                        sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :], key_id.encode("utf-8")
                    )
                except InvalidTag:
                    continue
            raise KeyringError(f"sealed key {key_id} does not open with any configured KEK")
        kek_id = self.kek_id_of(sealed)
        aead = self._keks.get(kek_id)
        if aead is None:
            raise KeyringError(f"sealed key {key_id} is sealed under KEK {kek_id!r}, which is not configured")
        start = 2 + len(kek_id.encode())
        nonce, body = sealed[start : start + _NONCE], sealed[start + _NONCE :]
        try:
            return aead.decrypt(nonce, body, key_id.encode("utf-8") + b"\x00" + kek_id.encode())
        except InvalidTag as error:
            raise KeyringError(f"sealed key {key_id} does not open with KEK {kek_id!r}") from error

    def kek_id_of(self, sealed: bytes) -> str:
        """The id of the KEK a sealed key is wrapped with (`""` for the id-less version 1)."""
        if sealed[:1] == _V1:
            return ""
        if sealed[:1] != _V2 or len(sealed) < 2:
            raise KeyringError("a sealed key has an unknown format")
        length = sealed[1]
        if len(sealed) < 2 + length + _NONCE + _TAG:
            raise KeyringError("a sealed key is truncated")
        return sealed[2 : 2 + length].decode()

    def rewrap(self, key_id: str, sealed: bytes) -> bytes | None:
        """The key sealed under the active KEK, or None when it already is."""
        if self.kek_id_of(sealed) == self.active_id:
            return None
        return self.seal(key_id, self.unseal(key_id, sealed))
