"""W3C Bitstring Status List v1.0: the bitstring, its encoding, and the validate algorithm.

- `Bitstring`: bit 0 is the most significant bit of the first byte (spec section 2.1).
- `encoded_list` / `decode_list`: `encodedList` is the Multibase base64url (`u`) encoding of the
  GZIP-compressed bitstring (spec section 2.2, "encodedList").
- `check_status`: the validate algorithm (spec section 3.2) for one `BitstringStatusListEntry`,
  with the list credential fetched through a caller-given function and verified through a
  caller-given function; every failure is an explicit error (`STATUS_RETRIEVAL_ERROR`,
  `STATUS_VERIFICATION_ERROR`, `STATUS_LIST_LENGTH_ERROR`, `RANGE_ERROR`,
  `MALFORMED_VALUE_ERROR`, spec section 3.3), never a "valid" answer.
"""

from __future__ import annotations

import base64
import gzip
import re
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from vc.dates import parse_datetime

MIN_ENTRIES = 131_072
"""The spec's minimum list length (16 KiB of bits) for group privacy."""
MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024
"""A list larger than this is refused (a decompression bomb is a malformed value, not a list)."""

ENTRY_TYPE = "BitstringStatusListEntry"
LIST_TYPE = "BitstringStatusListCredential"
LIST_SUBJECT_TYPE = "BitstringStatusList"


class StatusError(Exception):
    """One of the spec's processing errors (section 3.3)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Bitstring:
    """A mutable bitstring; index 0 is the most significant bit of byte 0."""

    __slots__ = ("_bytes",)

    def __init__(self, length: int = MIN_ENTRIES, *, data: bytes | None = None) -> None:
        if data is not None:
            self._bytes = bytearray(data)
        else:
            if length % 8:
                raise ValueError("a bitstring's length is a whole number of bytes")
            self._bytes = bytearray(length // 8)

    def __len__(self) -> int:
        return len(self._bytes) * 8

    def get(self, index: int) -> bool:
        if not 0 <= index < len(self):
            raise IndexError(index)
        return bool(self._bytes[index >> 3] & (0x80 >> (index & 7)))

    def set(self, index: int, value: bool) -> None:
        if not 0 <= index < len(self):
            raise IndexError(index)
        mask = 0x80 >> (index & 7)
        if value:
            self._bytes[index >> 3] |= mask
        else:
            self._bytes[index >> 3] &= ~mask & 0xFF

    def to_bytes(self) -> bytes:
        return bytes(self._bytes)

    def encode(self) -> str:
        return encoded_list(self.to_bytes())


def encoded_list(bits: bytes) -> str:
    """`u` + base64url without padding of GZIP(bits). `mtime=0` keeps the output deterministic."""
    compressed = gzip.compress(bits, compresslevel=9, mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode()


def decode_list(encoded: str) -> Bitstring:
    """The bitstring of an `encodedList`; MALFORMED_VALUE_ERROR for anything else."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise StatusError("MALFORMED_VALUE_ERROR", "encodedList must be a Multibase base64url ('u') string")
    body = encoded[1:]
    try:
        compressed = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_", validate=True)
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        data = inflater.decompress(compressed, MAX_DECOMPRESSED_BYTES + 1)
    except (ValueError, zlib.error) as error:
        raise StatusError(
            "MALFORMED_VALUE_ERROR", f"encodedList is not base64url GZIP data: {error}"
        ) from error
    if len(data) > MAX_DECOMPRESSED_BYTES or inflater.unconsumed_tail:
        raise StatusError("MALFORMED_VALUE_ERROR", "encodedList decompresses to more than 16 MiB")
    if not inflater.eof or not data:
        raise StatusError("MALFORMED_VALUE_ERROR", "encodedList is not a complete GZIP stream")
    return Bitstring(data=data)


# A verifier reads many credentials' bits from the same few lists: each distinct encodedList is
# decoded (base64 + GZIP, about 50 µs for the minimum 16 KiB list) once, not once per entry. Keyed
# by the exact string, so a re-published list is decoded afresh. Only check_status reads these.
_CACHED_LIST_CHARS = 256 * 1024


@lru_cache(maxsize=64)
def _read_only_bits(encoded: str) -> Bitstring:
    return decode_list(encoded)


@dataclass(frozen=True, slots=True)
class StatusResult:
    """The outcome for one entry: `status` is True when the bit is set (revoked / suspended)."""

    purpose: str
    status: bool
    list_url: str
    index: int


Fetch = Callable[[str], Awaitable[dict[str, Any]]]
"""Dereferences a status list credential URL; raises StatusError(STATUS_RETRIEVAL_ERROR)."""
VerifyList = Callable[[dict[str, Any]], Awaitable[None]]
"""Verifies the list credential's proof and issuer; raises StatusError(STATUS_VERIFICATION_ERROR)."""


# Status list indexes are stored as PostgreSQL integers, and lists hold far fewer entries.
MAX_INDEX = 2**31 - 1
_INDEX = re.compile(r"0|[1-9][0-9]{0,9}")


def status_entry(list_url: str, index: int, purpose: str) -> dict[str, Any]:
    """One `BitstringStatusListEntry` (Bitstring Status List v1.0, section 2.1): the index a
    decimal string, the entry's id the list URL with the index as fragment. `parse_index` and
    `entries_of` read what this writes."""
    return {
        "id": f"{list_url}#{index}",
        "type": ENTRY_TYPE,
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def parse_index(raw: Any) -> int | None:
    """A `statusListIndex` as a number, or None unless it is a canonical decimal string (ASCII
    digits, no leading zero) of at most `MAX_INDEX`. `str.isdigit` alone admits digits `int`
    refuses ("²") and thousands of digits that `int` refuses or the database cannot store."""
    if not isinstance(raw, str) or not _INDEX.fullmatch(raw):
        return None
    index = int(raw)
    return index if index <= MAX_INDEX else None


def entries_of(credential: dict[str, Any]) -> list[dict[str, Any]]:
    status = credential.get("credentialStatus")
    if status is None:
        return []
    items = status if isinstance(status, list) else [status]
    return [item if isinstance(item, dict) else {"type": None} for item in items]


async def check_status(
    entry: dict[str, Any], *, fetch: Fetch, verify_list: VerifyList, now: datetime | None = None
) -> StatusResult:
    """The validate algorithm of spec section 3.2 for one `BitstringStatusListEntry`."""
    if entry.get("type") != ENTRY_TYPE:
        raise StatusError("MALFORMED_VALUE_ERROR", f"credentialStatus type must be {ENTRY_TYPE}")
    purpose, url, raw_index = (
        entry.get("statusPurpose"),
        entry.get("statusListCredential"),
        entry.get("statusListIndex"),
    )
    if not isinstance(purpose, str) or not isinstance(url, str):
        raise StatusError(
            "MALFORMED_VALUE_ERROR", "statusPurpose and statusListCredential are required strings"
        )
    index = parse_index(raw_index)
    if index is None:
        raise StatusError(
            "MALFORMED_VALUE_ERROR", f"statusListIndex must be a decimal string of at most {MAX_INDEX}"
        )
    size = entry.get("statusSize", 1)
    if size != 1:
        raise StatusError("MALFORMED_VALUE_ERROR", "only statusSize 1 is supported")

    list_credential = await fetch(url)
    await verify_list(list_credential)
    types = list_credential.get("type")
    subject = list_credential.get("credentialSubject")
    if not isinstance(types, list) or LIST_TYPE not in types or not isinstance(subject, dict):
        raise StatusError("STATUS_VERIFICATION_ERROR", f"{url} is not a {LIST_TYPE}")
    list_purposes = subject.get("statusPurpose")
    if isinstance(list_purposes, str):
        list_purposes = [list_purposes]
    if not isinstance(list_purposes, list) or purpose not in list_purposes:
        raise StatusError(
            "STATUS_VERIFICATION_ERROR", f"the list's statusPurpose does not include the entry's '{purpose}'"
        )
    moment = now or datetime.now(UTC)
    valid_from, valid_until = (
        parse_datetime(list_credential.get("validFrom")),
        parse_datetime(list_credential.get("validUntil")),
    )
    if (valid_from is not None and valid_from > moment) or (valid_until is not None and valid_until < moment):
        raise StatusError(
            "STATUS_VERIFICATION_ERROR", "the status list credential is outside its validity period"
        )
    encoded = subject.get("encodedList")
    if isinstance(encoded, str) and len(encoded) <= _CACHED_LIST_CHARS:
        bits = _read_only_bits(encoded)
    else:
        bits = decode_list(encoded)  # type: ignore[arg-type]
    if len(bits) < MIN_ENTRIES:
        raise StatusError(
            "STATUS_LIST_LENGTH_ERROR",
            f"the list has {len(bits)} entries, fewer than the minimum {MIN_ENTRIES}",
        )
    if index >= len(bits):
        raise StatusError("RANGE_ERROR", f"statusListIndex {index} is beyond the list's {len(bits)} entries")
    return StatusResult(purpose=purpose, status=bits.get(index), list_url=url, index=index)


@dataclass
class ListCache:
    """Status list credentials by URL, kept for their `ttl` (milliseconds; spec section 2.2),
    or `default_ttl_s` when the list gives none. Verification results are cached with them."""

    default_ttl_s: float = 300.0
    max_entries: int = 1024
    _items: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    _verified: set[int] = field(default_factory=set)
    """Cached documents (by identity) whose proof and issuer were verified: a list is verified
    once per fetch, not once per credential that points at it."""

    def get(self, url: str) -> dict[str, Any] | None:
        item = self._items.get(url)
        if item is None or item[0] < time.monotonic():
            self._drop(url)
            return None
        return item[1]

    def _drop(self, url: str) -> None:
        item = self._items.pop(url, None)
        if item is not None:
            self._verified.discard(id(item[1]))

    def is_verified(self, credential: dict[str, Any]) -> bool:
        return id(credential) in self._verified

    def mark_verified(self, credential: dict[str, Any]) -> None:
        if any(item[1] is credential for item in self._items.values()):
            self._verified.add(id(credential))

    def put(self, url: str, credential: dict[str, Any]) -> None:
        subject = credential.get("credentialSubject")
        ttl = subject.get("ttl") if isinstance(subject, dict) else None
        seconds = (
            ttl / 1000
            if isinstance(ttl, int) and not isinstance(ttl, bool) and ttl >= 0
            else self.default_ttl_s
        )
        self._drop(url)
        if len(self._items) >= self.max_entries:
            self._drop(next(iter(self._items)))
        self._items[url] = (time.monotonic() + seconds, credential)
