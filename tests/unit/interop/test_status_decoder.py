"""Our Bitstring Status List encoding (vc.status) read back by an independent
decoder: Digital Bazaar's `decodeList` from @digitalbazaar/vc-bitstring-status-list, run through
`tests/interop/verify.mjs --decode-list`. Bit order (index 0 = most significant bit of the first
byte), GZIP and Multibase base64url must agree, or a revoked credential would read as valid (or the
wrong one as revoked) to everyone else's verifier.

Needs only Node.js and npm (`npm ci` from the committed lock file on first use); no Kafka or
PostgreSQL. Without Node these tests fail rather than skip.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.interop import VERIFY_MJS, decode_status_list, ensure_interop_modules
from vc.status import Bitstring

LIST_URL = "https://issuer.credstream.test/status-lists/acme/revocation/1"

# W3C Bitstring Status List v1.0, Example "BitstringStatusListCredential": a 131,072-entry list
# with no bit set.
SPEC_EXAMPLE_ENCODED_LIST = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"


def list_credential(encoded_list: str) -> dict[str, Any]:
    """A minimal (unsigned) BitstringStatusListCredential; --decode-list does not verify proofs."""
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": LIST_URL,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": "did:web:issuer.credstream.test:issuers:acme",
        "credentialSubject": {
            "id": f"{LIST_URL}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encoded_list,
            "ttl": 300000,
        },
    }


def write_list(tmp_path: Path, encoded_list: str, name: str = "list.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(list_credential(encoded_list)))
    return path


@pytest.mark.parametrize(
    "indexes",
    [
        {0, 7, 8, 94567, 131071},
        set(),
        {1, 2, 3, 4, 5, 6},  # a byte's inner bits: catches a reversed bit order within a byte
        set(range(0, 131072, 4099)),
    ],
    ids=["ends-and-byte-edges", "none", "inner-bits", "spread"],
)
def test_digital_bazaar_reads_exactly_the_bits_we_set(tmp_path: Path, indexes: set[int]) -> None:
    bits = Bitstring(131072)
    for index in indexes:
        bits.set(index, True)
    length, set_bits = decode_status_list(write_list(tmp_path, bits.encode()))
    assert length == 131072
    assert set_bits == sorted(indexes)


def test_a_longer_list_keeps_its_length(tmp_path: Path) -> None:
    bits = Bitstring(131072 * 4)
    bits.set(131072 * 4 - 1, True)
    bits.set(131072, True)
    assert decode_status_list(write_list(tmp_path, bits.encode())) == (131072 * 4, [131072, 131072 * 4 - 1])


def test_the_specification_example_list_is_empty(tmp_path: Path) -> None:
    length, set_bits = decode_status_list(write_list(tmp_path, SPEC_EXAMPLE_ENCODED_LIST))
    assert (length, set_bits) == (131072, [])


def test_decode_list_refuses_what_is_not_an_encoded_list(tmp_path: Path) -> None:
    interop = ensure_interop_modules()

    def decode(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["node", str(VERIFY_MJS), "--decode-list", str(path)],
            check=False,
            capture_output=True,
            text=True,
            cwd=interop,
            timeout=120,
        )

    no_multibase_prefix = write_list(tmp_path, Bitstring(131072).encode()[1:], "no-prefix.json")
    not_gzip = write_list(tmp_path, "uAAAA", "not-gzip.json")
    no_list = tmp_path / "no-list.json"
    no_list.write_text(json.dumps({"credentialSubject": {}}))
    for path in (no_multibase_prefix, not_gzip, no_list, tmp_path / "missing.json"):
        refused = decode(path)
        assert refused.returncode == 2, (path, refused.stdout, refused.stderr)
        assert refused.stdout == ""
        assert str(path) in refused.stderr
    # --decode-list takes one source and nothing else.
    both = subprocess.run(
        ["node", str(VERIFY_MJS), "--decode-list", str(not_gzip), str(not_gzip)],
        check=False,
        capture_output=True,
        text=True,
        cwd=interop,
        timeout=120,
    )
    assert both.returncode == 2 and both.stdout == "", both.stderr
