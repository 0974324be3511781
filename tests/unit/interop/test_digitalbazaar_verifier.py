"""The independent verifier (tests/interop/verify.mjs, Digital Bazaar's libraries) must itself be
trustworthy: it accepts the specifications' signed vectors and rejects tampered ones, resolves keys
only where it is told to, and never passes a credential whose status it did not check. Otherwise
"their verifier accepts what we issue" would prove nothing.

The vectors are verbatim copies in tests/vectors/ (see its README.md):
* W3C "Data Integrity EdDSA Cryptosuites v1.0", Appendix A Test Vectors (key pair A.1,
  eddsa-rdfc-2022 signed credential A.2, eddsa-jcs-2022 signed credential A.4, and the context
  https://www.w3.org/ns/credentials/examples/v2 they use);
* 1EdTech Open Badges 3.0 Implementation Guide, "Linked Data Proof" example (eddsa-rdfc-2022).

These tests need only Node.js and npm (`npm ci` from the committed lock file on first use); no
Kafka or PostgreSQL. Without Node they fail rather than skip.
"""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.fixtures.interop import (
    VERIFY_MJS,
    InteropResult,
    ensure_interop_modules,
    verify_with_digitalbazaar,
)
from tests.unit.vc.vectors import (
    EXAMPLES_CONTEXT_URL,
    W3C_DIR,
    controller_document,
    load,
    ob_signed,
    w3c_jcs_signed,
    w3c_rdfc_signed,
)

EXAMPLES = {EXAMPLES_CONTEXT_URL: W3C_DIR / "credentials-examples-v2.jsonld"}
INVALID_SIGNATURE = "Invalid signature."
ISSUER_NOT_CONTROLLER = "Credential issuer must match the verification method controller."


w3c_rdfc = w3c_rdfc_signed
w3c_jcs = w3c_jcs_signed


# --- a minimal, test-local eddsa-jcs-2022 signer (independent of services/), to make credentials
# that the vectors do not cover: with a status, with did:web issuers. It is checked below to
# reproduce the W3C eddsa-jcs-2022 vector's proofValue exactly (Ed25519 signatures are
# deterministic), so a failure elsewhere is the verifier's, not this helper's.

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, digit = divmod(number, 58)
        out = _B58[digit] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        number = number * 58 + _B58.index(char)
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def jcs(value: Any) -> bytes:
    # RFC 8785 for the data used here (strings, no numbers, ASCII keys): sorted keys, no spaces.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


KEY_PAIR = load(W3C_DIR / "keyPair.json")
PUBLIC_KEY: str = KEY_PAIR["publicKeyMultibase"]
_SECRET = b58decode(KEY_PAIR["privateKeyMultibase"][1:])
assert _SECRET[:2] == b"\x80\x26" and len(_SECRET) == 34  # multicodec ed25519-priv + 32-byte seed
PRIVATE_KEY = Ed25519PrivateKey.from_private_bytes(_SECRET[2:])
DID_KEY = f"did:key:{PUBLIC_KEY}"


def sign_jcs(unsigned: dict[str, Any], verification_method: str) -> dict[str, Any]:
    """vc-di-eddsa 3.3 (eddsa-jcs-2022): sign SHA-256(JCS(proof config)) || SHA-256(JCS(document))."""
    proof = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "created": "2023-02-24T23:36:38Z",
        "verificationMethod": verification_method,
        "proofPurpose": "assertionMethod",
        "@context": unsigned["@context"],
    }
    data = hashlib.sha256(jcs(proof)).digest() + hashlib.sha256(jcs(unsigned)).digest()
    proof["proofValue"] = "z" + b58encode(PRIVATE_KEY.sign(data))
    return {**unsigned, "proof": proof}


def unsigned_w3c(issuer: str) -> dict[str, Any]:
    document = w3c_jcs()
    del document["proof"]
    document["issuer"] = issuer
    return document


def did_document(did: str, fragment: str = "key-1") -> dict[str, Any]:
    return controller_document(did, f"{did}#{fragment}", PUBLIC_KEY)


def verdicts(results: list[InteropResult]) -> list[bool]:
    return [r.verified for r in results]


def test_the_test_signer_reproduces_the_w3c_jcs_vector() -> None:
    vector = w3c_jcs()
    assert sign_jcs(unsigned_w3c(vector["issuer"]), vector["proof"]["verificationMethod"]) == vector


# --- the specifications' vectors


@pytest.mark.parametrize(
    ("vector", "other"), [(w3c_rdfc, w3c_jcs), (w3c_jcs, w3c_rdfc)], ids=["eddsa-rdfc-2022", "eddsa-jcs-2022"]
)
def test_the_w3c_vector_verifies_and_tampered_copies_do_not(vector: Any, other: Any) -> None:
    good = vector()
    tampered = copy.deepcopy(good)
    tampered["credentialSubject"]["alumniOf"] = "The School of Counterexamples"
    renamed = copy.deepcopy(good)
    renamed["name"] = "Alumni Credential (forged)"
    wrong_signature = copy.deepcopy(good)
    # A well-formed signature by the same key, but over other data (the other cryptosuite's).
    wrong_signature["proof"]["proofValue"] = other()["proof"]["proofValue"]

    # The W3C vectors' issuer (https://vc.example/issuers/5678) is not the controller of their
    # did:key verification method: they test the cryptosuite, not issuer binding. Digital Bazaar's
    # default proof purpose (CredentialIssuancePurpose) rightly rejects that...
    [bound] = verify_with_digitalbazaar([good], contexts=EXAMPLES)
    assert bound == InteropResult(False, [ISSUER_NOT_CONTROLLER])
    # ...so they are checked with AssertionProofPurpose: the signature, and that the key is an
    # assertionMethod of its controller (the did:key document), without issuer == controller.
    results = verify_with_digitalbazaar(
        [good, tampered, renamed, wrong_signature], contexts=EXAMPLES, issuer_binding=False
    )
    assert verdicts(results) == [True, False, False, False], results
    assert all(r.errors == [INVALID_SIGNATURE] for r in results[1:]), results


def ob_issuer_controller_document(credential: dict[str, Any]) -> dict[str, Any]:
    """The 1EdTech example's verification method is https://example.edu/issuers/565049#z6Mkj...,
    an HTTPS key URL whose fragment is the Multikey public key, but the guide publishes no
    document at https://example.edu/issuers/565049 (example.edu is a reserved example domain, and
    this verifier never uses the network). This is the minimal controller document that such a URL
    implies: issuer id, and the key taken from the fragment, listed for assertionMethod. It adds
    no trust of its own: the signature must still verify against that key, and
    CredentialIssuancePurpose still checks issuer == controller."""
    issuer = credential["issuer"]["id"]
    vm: str = credential["proof"]["verificationMethod"]
    assert vm.startswith(issuer + "#z6Mk")
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": issuer,
        "verificationMethod": [
            {"id": vm, "type": "Multikey", "controller": issuer, "publicKeyMultibase": vm.split("#")[1]}
        ],
        "assertionMethod": [vm],
    }


def test_the_1edtech_open_badges_vector_verifies_and_tampered_copies_do_not() -> None:
    good = ob_signed()
    controller = ob_issuer_controller_document(good)
    achievement = copy.deepcopy(good)
    achievement["credentialSubject"]["achievement"]["name"] = "Leadership"
    renamed = copy.deepcopy(good)
    renamed["name"] = "Leadership Badge"
    wrong_signature = copy.deepcopy(good)
    wrong_signature["proof"]["proofValue"] = w3c_rdfc()["proof"]["proofValue"]
    results = verify_with_digitalbazaar(
        [good, achievement, renamed, wrong_signature], did_documents=[controller]
    )
    assert verdicts(results) == [True, False, False, False], results
    assert all(r.errors == [INVALID_SIGNATURE] for r in results[1:]), results

    # Without the controller document the key URL is not fetched (no network): it fails.
    [unresolved] = verify_with_digitalbazaar([good])
    assert not unresolved.verified
    assert any("refusing to load https://example.edu/issuers/565049#z6Mk" in e for e in unresolved.errors)


# --- status, did:key, did:web


def test_a_credential_status_is_never_skipped_silently() -> None:
    plain = sign_jcs(unsigned_w3c(DID_KEY), f"{DID_KEY}#{PUBLIC_KEY}")
    with_status = unsigned_w3c(DID_KEY)
    with_status["credentialStatus"] = {
        "id": "https://vc.example/status/3#94567",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "94567",
        "statusListCredential": "https://vc.example/status/3",
    }
    with_status = sign_jcs(with_status, f"{DID_KEY}#{PUBLIC_KEY}")
    # With a did:key issuer, issuer binding is checked in full (issuer == key controller).
    checked = verify_with_digitalbazaar([plain, with_status], contexts=EXAMPLES)
    assert verdicts(checked) == [True, False], checked
    assert any("status not checked" in e for e in checked[1].errors), checked
    ignored = verify_with_digitalbazaar([plain, with_status], contexts=EXAMPLES, ignore_status=True)
    assert verdicts(ignored) == [True, True], ignored
    # --check-status checks only Bitstring Status List entries; any other kind fails, unfetched.
    other_kind = unsigned_w3c(DID_KEY)
    other_kind["credentialStatus"] = {**with_status["credentialStatus"], "type": "StatusList2021Entry"}
    other_kind = sign_jcs(other_kind, f"{DID_KEY}#{PUBLIC_KEY}")
    [unsupported] = verify_with_digitalbazaar([other_kind], contexts=EXAMPLES, check_status=True)
    assert unsupported == InteropResult(
        False,
        [
            'status not checked: credentialStatus type "StatusList2021Entry" is not supported '
            "(only BitstringStatusListEntry)"
        ],
    )


def test_a_did_key_issuer_must_control_the_signing_key() -> None:
    other_did_key = "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"  # the 1EdTech key
    forged = sign_jcs(unsigned_w3c(other_did_key), f"{DID_KEY}#{PUBLIC_KEY}")
    [result] = verify_with_digitalbazaar([forged], contexts=EXAMPLES)
    assert result == InteropResult(False, [ISSUER_NOT_CONTROLLER])


@dataclass
class DidWebHost:
    host: str  # 127.0.0.1:PORT
    documents: dict[str, dict[str, Any]]  # HTTP path -> JSON
    requests: list[str]


@pytest.fixture
def did_web_host() -> Iterator[DidWebHost]:
    served = DidWebHost("", {}, [])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests.append(self.path)
            document = served.documents.get(self.path)
            body = json.dumps(document).encode() if document is not None else b"{}"
            self.send_response(200 if document is not None else 404)
            self.send_header("content-type", "application/did+json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.host = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("did_path", "http_path"),
    [(":issuers:acme", "/issuers/acme/did.json"), ("", "/.well-known/did.json")],
    ids=["path", "well-known"],
)
def test_did_web_resolves_over_http_only_for_allowed_hosts(
    did_web_host: DidWebHost, did_path: str, http_path: str
) -> None:
    did = f"did:web:{did_web_host.host.replace(':', '%3A')}{did_path}"
    did_web_host.documents[http_path] = did_document(did)
    good = sign_jcs(unsigned_w3c(did), f"{did}#key-1")
    tampered = copy.deepcopy(good)
    tampered["credentialSubject"]["alumniOf"] = "Elsewhere"
    results = verify_with_digitalbazaar([good, tampered], contexts=EXAMPLES, did_web_http=[did_web_host.host])
    assert verdicts(results) == [True, False], results
    assert did_web_host.requests and set(did_web_host.requests) == {http_path}

    # Not listed with --did-web-http: refused, naming the https URL the did:web method gives.
    did_web_host.requests.clear()
    [refused] = verify_with_digitalbazaar([good], contexts=EXAMPLES)
    assert not refused.verified
    assert any(f"refusing to fetch https://{did_web_host.host}{http_path}" in e for e in refused.errors)
    assert did_web_host.requests == []


@pytest.mark.parametrize(
    ("did", "url"),
    [
        ("did:web:example.com%3A8443:issuers:acme", "https://example.com:8443/issuers/acme/did.json"),
        ("did:web:example.com", "https://example.com/.well-known/did.json"),
    ],
)
def test_did_web_urls_follow_the_method_and_other_hosts_are_refused(did: str, url: str) -> None:
    credential = sign_jcs(unsigned_w3c(did), f"{did}#key-1")
    [result] = verify_with_digitalbazaar([credential], contexts=EXAMPLES)
    assert not result.verified
    assert any(f"refusing to fetch {url} for {did}" in e for e in result.errors), result


def test_a_given_did_document_is_served_without_any_http() -> None:
    did = "did:web:issuer.credstream.test:issuers:acme"
    good = sign_jcs(unsigned_w3c(did), f"{did}#key-1")
    [result] = verify_with_digitalbazaar([good], contexts=EXAMPLES, did_documents=[did_document(did)])
    assert result == InteropResult(True, [])


# --- the command line


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    interop = ensure_interop_modules()
    return subprocess.run(
        ["node", str(VERIFY_MJS), *args],
        check=False,
        input=stdin,
        capture_output=True,
        text=True,
        cwd=interop,
        timeout=120,
    )


def test_cli_output_and_exit_status(tmp_path: Path) -> None:
    context = f"{EXAMPLES_CONTEXT_URL}={EXAMPLES[EXAMPLES_CONTEXT_URL]}"
    good = str(W3C_DIR / "eddsa-jcs-2022_signedJCS.json")
    bad = tmp_path / "bad.json"
    tampered = w3c_jcs()
    tampered["credentialSubject"]["alumniOf"] = "Elsewhere"
    bad.write_text(json.dumps(tampered))

    ok = run_cli("--context", context, "--no-issuer-binding", good)
    assert ok.returncode == 0, ok.stderr
    assert [json.loads(line) for line in ok.stdout.splitlines()] == [
        {"file": good, "verified": True, "errors": []}
    ]

    failed = run_cli(
        "--context", context, "--no-issuer-binding", good, str(bad), "-", stdin=json.dumps([tampered])
    )
    assert failed.returncode == 1, failed.stderr
    lines = [json.loads(line) for line in failed.stdout.splitlines()]
    assert [(line["file"], line["verified"]) for line in lines] == [
        (good, True),
        (str(bad), False),
        ("-[0]", False),
    ]

    for usage in (
        [],
        ["--bogus", good],
        ["--context", "no-equals-sign", good],
        ["--ignore-status", "--check-status", good],
        ["--decode-list"],
        # Contexts the libraries ship are theirs: a copy of ours must not replace them.
        ["--context", f"https://www.w3.org/ns/credentials/v2={EXAMPLES[EXAMPLES_CONTEXT_URL]}", good],
        [str(tmp_path / "missing.json")],
    ):
        refused = run_cli(*usage)
        assert refused.returncode == 2, (usage, refused.stdout, refused.stderr)
        assert refused.stdout == ""


# --- credstream's own proofs (vc) in both cryptosuites


def test_our_proofs_on_an_open_badge_verify_in_both_cryptosuites() -> None:
    from vc import multibase
    from vc.keys import Ed25519Signer
    from vc.proofs import JCS, RDFC, create_proof

    seed = multibase.decode_secret_key(KEY_PAIR["privateKeyMultibase"])
    signer = Ed25519Signer(f"{DID_KEY}#{PUBLIC_KEY}", seed)
    unsigned = {key: value for key, value in ob_signed().items() if key != "proof"}
    unsigned["issuer"] = {**unsigned["issuer"], "id": DID_KEY}  # did:key: issuer binding applies
    signed = [create_proof(unsigned, signer=signer, cryptosuite=suite) for suite in (RDFC, JCS)]
    tampered = [copy.deepcopy(credential) for credential in signed]
    for credential in tampered:
        credential["validFrom"] = "2011-01-01T00:00:00Z"
    results = verify_with_digitalbazaar([*signed, *tampered])
    assert verdicts(results) == [True, True, False, False], results


# --- --check-status: W3C Bitstring Status List v1.0 with Digital Bazaar's checkStatus


def status_entry(list_url: str, purpose: str, index: int) -> dict[str, str]:
    return {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def signed_status_list(
    list_url: str, issuer: str, verification_method: str, purpose: str, set_bits: tuple[int, ...] = ()
) -> dict[str, Any]:
    from vc.status import Bitstring

    bits = Bitstring(131072)
    for index in set_bits:
        bits.set(index, True)
    unsigned = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": bits.encode(),
            "ttl": 300000,
        },
    }
    return sign_jcs(unsigned, verification_method)


def test_check_status_reads_revocation_and_suspension_from_the_signed_lists(did_web_host: DidWebHost) -> None:
    did = f"did:web:{did_web_host.host.replace(':', '%3A')}:issuers:acme"
    vm = f"{did}#key-1"
    did_web_host.documents["/issuers/acme/did.json"] = did_document(did)
    paths = {purpose: f"/status-lists/acme/{purpose}/1" for purpose in ("revocation", "suspension")}
    urls = {purpose: f"http://{did_web_host.host}{path}" for purpose, path in paths.items()}
    index = 94567

    def publish(revoked: bool, suspended: bool) -> None:
        for purpose, on in (("revocation", revoked), ("suspension", suspended)):
            did_web_host.documents[paths[purpose]] = signed_status_list(
                urls[purpose], did, vm, purpose, (index,) if on else ()
            )

    unsigned = unsigned_w3c(did)
    unsigned["credentialStatus"] = [status_entry(urls[p], p, index) for p in ("revocation", "suspension")]
    credential = sign_jcs(unsigned, vm)

    def check() -> InteropResult:
        did_web_host.requests.clear()
        [result] = verify_with_digitalbazaar(
            [credential], contexts=EXAMPLES, did_web_http=[did_web_host.host], check_status=True
        )
        return result

    publish(revoked=False, suspended=False)
    assert check() == InteropResult(True, [], {"revocation": False, "suspension": False})
    assert set(paths.values()) <= set(did_web_host.requests)

    publish(revoked=True, suspended=False)
    revoked = check()
    assert not revoked.verified and revoked.status == {"revocation": True, "suspension": False}
    assert revoked.errors == [f"revoked (revocation bit {index} of {urls['revocation']} is set)"]

    publish(revoked=False, suspended=True)
    suspended = check()
    assert not suspended.verified and suspended.status == {"revocation": False, "suspension": True}
    assert suspended.errors == [f"suspended (suspension bit {index} of {urls['suspension']} is set)"]

    publish(revoked=True, suspended=True)
    both = check()
    assert not both.verified and both.status == {"revocation": True, "suspension": True}
    assert [e.split(" ")[0] for e in both.errors] == ["revoked", "suspended"]

    # Other bits than the credential's do not matter.
    for purpose in ("revocation", "suspension"):
        did_web_host.documents[paths[purpose]] = signed_status_list(
            urls[purpose], did, vm, purpose, (0, index - 1, index + 1, 131071)
        )
    assert check() == InteropResult(True, [], {"revocation": False, "suspension": False})

    # Without --check-status the lists are not fetched, and the credential is not accepted.
    did_web_host.requests.clear()
    [unchecked] = verify_with_digitalbazaar([credential], contexts=EXAMPLES, did_web_http=[did_web_host.host])
    assert not unchecked.verified and unchecked.status is None
    assert any("status not checked" in e for e in unchecked.errors), unchecked
    assert not set(paths.values()) & set(did_web_host.requests)


def test_check_status_verifies_the_list_credential(did_web_host: DidWebHost) -> None:
    did = f"did:web:{did_web_host.host.replace(':', '%3A')}:issuers:acme"
    vm = f"{did}#key-1"
    did_web_host.documents["/issuers/acme/did.json"] = did_document(did)
    path = "/status-lists/acme/revocation/1"
    url = f"http://{did_web_host.host}{path}"
    unsigned = unsigned_w3c(did)
    unsigned["credentialStatus"] = status_entry(url, "revocation", 7)
    credential = sign_jcs(unsigned, vm)

    def check() -> InteropResult:
        [result] = verify_with_digitalbazaar(
            [credential], contexts=EXAMPLES, did_web_http=[did_web_host.host], check_status=True
        )
        assert not result.verified and result.status is None, result
        return result

    # A list whose bits were changed after signing (here: "un-revoking" the credential).
    forged = signed_status_list(url, did, vm, "revocation", (7,))
    forged["credentialSubject"]["encodedList"] = signed_status_list(url, did, vm, "revocation")[
        "credentialSubject"
    ]["encodedList"]
    did_web_host.documents[path] = forged
    assert any('"BitstringStatusListCredential" not verified' in e for e in check().errors)
    # A validly signed list of another issuer (did:key, same key).
    did_web_host.documents[path] = signed_status_list(url, DID_KEY, f"{DID_KEY}#{PUBLIC_KEY}", "revocation")
    assert any(
        "Issuers of the status list credential and verifiable credential do not match" in e
        for e in check().errors
    )
    # A list for another purpose.
    did_web_host.documents[path] = signed_status_list(url, did, vm, "suspension")
    assert any('status purpose "suspension" of the status list credential' in e for e in check().errors)
    # A list published under another URL than the entry's.
    did_web_host.documents[path] = signed_status_list(url + "0", did, vm, "revocation")
    assert any(f"the status list credential at {url} has id {url}0" in e for e in check().errors)
    # No list at the URL.
    del did_web_host.documents[path]
    assert any(f"{url}: HTTP 404" in e for e in check().errors)
