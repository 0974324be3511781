"""Envelope encryption of issuers' keys: KEK ids, bound associated data, rotation, version 1."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.issuance.keyring import Keyring, KeyringError

OLD, NEW = (base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=") for _ in range(2))
SEED = os.urandom(32)
KEY_ID = "did:web:example:issuers:uni#z6Mk"


def test_sealed_keys_name_their_kek_and_hold_only_ciphertext() -> None:
    sealed = Keyring("kek-1", OLD).seal(KEY_ID, SEED)
    assert Keyring("kek-1", OLD).kek_id_of(sealed) == "kek-1"
    assert SEED not in sealed and SEED.hex().encode() not in sealed
    assert Keyring("kek-1", OLD).unseal(KEY_ID, sealed) == SEED


def test_a_sealed_key_opens_only_for_its_key_id_and_kek() -> None:
    ring = Keyring("kek-1", OLD)
    sealed = ring.seal(KEY_ID, SEED)
    with pytest.raises(KeyringError, match="does not open"):
        ring.unseal(KEY_ID + "-other", sealed)  # copied onto another key row
    with pytest.raises(KeyringError, match="not configured"):
        Keyring("kek-2", NEW).unseal(KEY_ID, sealed)
    with pytest.raises(KeyringError, match="does not open"):
        Keyring("kek-1", NEW).unseal(KEY_ID, sealed)  # another KEK under the same id
    relabelled = sealed[:2] + b"kek-2" + sealed[7:]
    with pytest.raises(KeyringError):
        Keyring("kek-2", OLD, {"kek-1": OLD}).unseal(KEY_ID, relabelled)


def test_rotation_keeps_old_keys_open_then_rewraps_them() -> None:
    sealed = Keyring("kek-1", OLD).seal(KEY_ID, SEED)
    rotated = Keyring("kek-2", NEW, {"kek-1": OLD})
    assert rotated.unseal(KEY_ID, sealed) == SEED
    rewrapped = rotated.rewrap(KEY_ID, sealed)
    assert rewrapped is not None and rotated.kek_id_of(rewrapped) == "kek-2"
    assert rotated.rewrap(KEY_ID, rewrapped) is None
    assert Keyring("kek-2", NEW).unseal(KEY_ID, rewrapped) == SEED  # the old KEK can go


def test_version_1_keys_without_a_kek_id_still_open_and_are_rewrapped() -> None:
    nonce = os.urandom(12)
    legacy = (
        b"\x01" + nonce + AESGCM(base64.urlsafe_b64decode(OLD + "=")).encrypt(nonce, SEED, KEY_ID.encode())
    )
    ring = Keyring("kek-2", NEW, {"legacy": OLD})
    assert ring.kek_id_of(legacy) == ""
    assert ring.unseal(KEY_ID, legacy) == SEED
    rewrapped = ring.rewrap(KEY_ID, legacy)
    assert rewrapped is not None and ring.kek_id_of(rewrapped) == "kek-2"


def test_malformed_keks_and_the_repr_reveals_no_key() -> None:
    with pytest.raises(KeyringError, match="32 bytes"):
        Keyring("k", base64.urlsafe_b64encode(b"short").decode())
    assert OLD not in repr(Keyring("kek-1", OLD))
