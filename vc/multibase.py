"""Multibase (base58btc, `z` prefix) and Multikey encodings of Ed25519 keys and signatures.

Controlled Identifiers v1.0 (Multikey) encodes an Ed25519 public key as base58btc of the
multicodec header 0xed 0x01 followed by the 32 key bytes (hence the familiar `z6Mk` prefix), and a
private key (seed) with the header 0x80 0x26 (`z3u2`). Data Integrity proof values are the
base58btc multibase of the raw 64-byte signature.
"""

from __future__ import annotations

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {char: value for value, char in enumerate(_ALPHABET)}

ED25519_PUB_HEADER = b"\xed\x01"
ED25519_PRIV_HEADER = b"\x80\x26"


class MultibaseError(ValueError):
    """A value is not valid multibase / Multikey of the expected kind."""


def b58encode(data: bytes) -> str:
    zeros = len(data) - len(data.lstrip(b"\0"))
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, rest = divmod(number, 58)
        digits.append(_ALPHABET[rest])
    return "1" * zeros + "".join(reversed(digits))


def b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        value = _INDEX.get(char)
        if value is None:
            raise MultibaseError(f"{char!r} is not a base58btc character")
        number = number * 58 + value
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def encode_multibase(data: bytes) -> str:
    """`z` + base58btc(data)."""
    return "z" + b58encode(data)


def decode_multibase(text: str) -> bytes:
    if not text.startswith("z"):
        raise MultibaseError("only base58btc multibase (prefix `z`) is accepted")
    return b58decode(text[1:])


def encode_public_key(raw: bytes) -> str:
    if len(raw) != 32:
        raise MultibaseError("an Ed25519 public key has 32 bytes")
    return encode_multibase(ED25519_PUB_HEADER + raw)


def decode_public_key(multibase: str) -> bytes:
    data = decode_multibase(multibase)
    if not data.startswith(ED25519_PUB_HEADER) or len(data) != 34:
        raise MultibaseError("publicKeyMultibase is not an Ed25519 Multikey (0xed01 + 32 bytes)")
    return data[2:]


def encode_secret_key(seed: bytes) -> str:
    if len(seed) != 32:
        raise MultibaseError("an Ed25519 secret key (seed) has 32 bytes")
    return encode_multibase(ED25519_PRIV_HEADER + seed)


def decode_secret_key(multibase: str) -> bytes:
    data = decode_multibase(multibase)
    if not data.startswith(ED25519_PRIV_HEADER) or len(data) != 34:
        raise MultibaseError("secretKeyMultibase is not an Ed25519 Multikey (0x8026 + 32 bytes)")
    return data[2:]
