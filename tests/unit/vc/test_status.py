"""Bitstring Status List v1.0: bit order, encoding, and the validate algorithm's error paths."""

from __future__ import annotations

import base64
import gzip
from typing import Any

import pytest

from vc import status
from vc.status import (
    MIN_ENTRIES,
    Bitstring,
    ListCache,
    StatusError,
    check_status,
    decode_list,
    encoded_list,
)

# W3C Bitstring Status List v1.0, section 2.2, example "BitstringStatusListCredential": the
# encodedList of an empty 131,072-entry list (as compressed by the spec's authors).
SPEC_EMPTY_LIST = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"
URL = "https://status.test/lists/1"


def test_bit_zero_is_the_most_significant_bit_of_the_first_byte() -> None:
    bits = Bitstring(MIN_ENTRIES)
    bits.set(0, True)
    bits.set(9, True)
    data = bits.to_bytes()
    assert data[0] == 0b1000_0000 and data[1] == 0b0100_0000
    bits.set(0, False)
    assert bits.to_bytes()[0] == 0 and bits.get(9) and not bits.get(8)


def test_the_specs_example_list_decodes_to_131072_clear_bits() -> None:
    bits = decode_list(SPEC_EMPTY_LIST)
    assert len(bits) == MIN_ENTRIES
    assert not any(bits.to_bytes())


def test_encoding_is_u_base64url_of_gzip_and_round_trips() -> None:
    bits = Bitstring(MIN_ENTRIES)
    for i in (0, 7, 8, 94567, MIN_ENTRIES - 1):
        bits.set(i, True)
    encoded = bits.encode()
    assert encoded.startswith("u") and "=" not in encoded and "+" not in encoded and "/" not in encoded
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert raw == bits.to_bytes()
    again = decode_list(encoded)
    assert [i for i in range(MIN_ENTRIES) if again.get(i)] == [0, 7, 8, 94567, MIN_ENTRIES - 1]


@pytest.mark.parametrize(
    "value",
    ["", "zAAAA", "u!!!", "u" + base64.urlsafe_b64encode(b"not gzip").decode()],
)
def test_malformed_encoded_lists_are_refused(value: str) -> None:
    with pytest.raises(StatusError) as error:
        decode_list(value)
    assert error.value.code == "MALFORMED_VALUE_ERROR"


def test_a_decompression_bomb_is_refused() -> None:
    bomb = encoded_list(bytes(64 * 1024 * 1024))
    assert len(bomb) < 200_000
    with pytest.raises(StatusError) as error:
        decode_list(bomb)
    assert error.value.code == "MALFORMED_VALUE_ERROR"


def _list(bits: Bitstring, purpose: str = "revocation", **changes: Any) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": URL,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": "did:example:issuer",
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {
            "id": f"{URL}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": bits.encode(),
        },
        **changes,
    }


def _entry(index: str, purpose: str = "revocation") -> dict[str, Any]:
    return {
        "id": f"{URL}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": index,
        "statusListCredential": URL,
    }


async def _check(entry: dict[str, Any], document: dict[str, Any] | Exception) -> bool:
    async def fetch(url: str) -> dict[str, Any]:
        assert url == URL
        if isinstance(document, Exception):
            raise document
        return document

    async def verify_list(_: dict[str, Any]) -> None:
        return None

    return (await check_status(entry, fetch=fetch, verify_list=verify_list)).status


async def test_the_bit_at_the_index_is_the_status() -> None:
    bits = Bitstring(MIN_ENTRIES)
    bits.set(94567, True)
    assert await _check(_entry("94567"), _list(bits)) is True
    assert await _check(_entry("94566"), _list(bits)) is False


@pytest.mark.parametrize(
    ("entry", "document", "code"),
    [
        (_entry("131072"), _list(Bitstring(MIN_ENTRIES)), "RANGE_ERROR"),
        (_entry("5"), _list(Bitstring(MIN_ENTRIES // 2)), "STATUS_LIST_LENGTH_ERROR"),
        (_entry("5", "suspension"), _list(Bitstring(MIN_ENTRIES)), "STATUS_VERIFICATION_ERROR"),
        (_entry("5"), _list(Bitstring(MIN_ENTRIES), validUntil="2026-02-01T00:00:00Z"),
         "STATUS_VERIFICATION_ERROR"),
        (_entry("05"), _list(Bitstring(MIN_ENTRIES)), "MALFORMED_VALUE_ERROR"),
        (_entry("-1"), _list(Bitstring(MIN_ENTRIES)), "MALFORMED_VALUE_ERROR"),
        (_entry("5"), StatusError("STATUS_RETRIEVAL_ERROR", "down"), "STATUS_RETRIEVAL_ERROR"),
        ({**_entry("5"), "type": "StatusList2021Entry"}, _list(Bitstring(MIN_ENTRIES)),
         "MALFORMED_VALUE_ERROR"),
    ],
    ids=["out-of-range", "short-list", "wrong-purpose", "list-expired", "leading-zero", "negative",
         "unreachable", "other-type"],
)  # fmt: skip
async def test_every_failure_is_an_explicit_error_never_valid(
    entry: dict[str, Any], document: dict[str, Any] | Exception, code: str
) -> None:
    with pytest.raises(StatusError) as error:
        await _check(entry, document)
    assert error.value.code == code


async def test_a_list_that_fails_verification_is_an_error() -> None:
    async def fetch(_: str) -> dict[str, Any]:
        return _list(Bitstring(MIN_ENTRIES))

    async def verify_list(_: dict[str, Any]) -> None:
        raise StatusError("STATUS_VERIFICATION_ERROR", "bad proof")

    with pytest.raises(StatusError) as error:
        await check_status(_entry("1"), fetch=fetch, verify_list=verify_list)
    assert error.value.code == "STATUS_VERIFICATION_ERROR"


def test_the_cache_keeps_a_list_for_its_ttl_and_remembers_its_verification_only_while_cached() -> None:
    cache = ListCache(default_ttl_s=60)
    first = _list(Bitstring(MIN_ENTRIES))
    cache.put(URL, first)
    assert cache.get(URL) is first and not cache.is_verified(first)
    cache.mark_verified(first)
    assert cache.is_verified(first)
    second = _list(Bitstring(MIN_ENTRIES))
    cache.put(URL, second)  # re-fetched: verified again before it is trusted
    assert cache.get(URL) is second and not cache.is_verified(second) and not cache.is_verified(first)
    cache.mark_verified(_list(Bitstring(MIN_ENTRIES)))  # a document the cache does not hold
    assert len(cache._verified) == 0
    expiring = _list(Bitstring(MIN_ENTRIES))
    expiring["credentialSubject"]["ttl"] = 0
    cache.put(URL, expiring)
    cache.mark_verified(expiring)
    assert cache.get(URL) is None and not cache.is_verified(expiring)


async def test_a_list_is_decoded_once_and_a_republished_list_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[str] = []

    def counting_decode(encoded: str) -> Bitstring:
        decoded.append(encoded)
        return decode_list(encoded)

    monkeypatch.setattr(status, "decode_list", counting_decode)
    status._read_only_bits.cache_clear()
    bits = Bitstring(MIN_ENTRIES)
    bits.set(7, True)
    first = _list(bits)
    assert [await _check(_entry(index), first) for index in ("7", "8", "7")] == [True, False, True]
    assert len(decoded) == 1
    bits.set(8, True)  # the list is re-published with another bit set
    assert await _check(_entry("8"), _list(bits)) is True
    assert len(decoded) == 2
