"""Known-answer data for Data Integrity proofs: the specifications' vectors in `tests/vectors/`
(see its README.md for the sources), loaded once and handed out as fresh copies."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
W3C_DIR = VECTORS / "w3c-vc-di-eddsa"
OB_DIR = VECTORS / "1edtech-ob3"


def read_text(path: Path) -> str:
    # newline="" keeps the bytes as published: canonical forms are compared byte for byte.
    with path.open(encoding="utf-8", newline="") as file:
        return file.read()


@cache
def _load(path: Path) -> Any:
    return json.loads(read_text(path))


def load(path: Path) -> dict[str, Any]:
    """A fresh copy of a JSON vector (tests mutate what they get)."""
    data: dict[str, Any] = copy.deepcopy(_load(path))
    return data


EXAMPLES_CONTEXT_URL = "https://www.w3.org/ns/credentials/examples/v2"
EXAMPLES_CONTEXT: dict[str, Any] = load(W3C_DIR / "credentials-examples-v2.jsonld")

_KEY_PAIR = load(W3C_DIR / "keyPair.json")
W3C_PUBLIC_KEY: str = _KEY_PAIR["publicKeyMultibase"]
W3C_SECRET_KEY: str = _KEY_PAIR["privateKeyMultibase"]
W3C_VM = f"did:key:{W3C_PUBLIC_KEY}#{W3C_PUBLIC_KEY}"


def w3c_rdfc_signed() -> dict[str, Any]:
    return load(W3C_DIR / "eddsa-rdfc-2022_signedDataInt.json")


def w3c_jcs_signed() -> dict[str, Any]:
    return load(W3C_DIR / "eddsa-jcs-2022_signedJCS.json")


def w3c_unsigned() -> dict[str, Any]:
    document = w3c_rdfc_signed()
    del document["proof"]
    return document


W3C_RDFC_PROOF: dict[str, Any] = w3c_rdfc_signed()["proof"]
W3C_JCS_PROOF: dict[str, Any] = w3c_jcs_signed()["proof"]


def ob_signed() -> dict[str, Any]:
    return load(OB_DIR / "ob_signed.json")


OB_ISSUER: str = ob_signed()["issuer"]["id"]
OB_PUBLIC_KEY: str = ob_signed()["proof"]["verificationMethod"].partition("#")[2]


def controller_document(controller: str, vm_id: str, public_key: str) -> dict[str, Any]:
    """The smallest controller document that authorises one Multikey for assertions."""
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": controller,
        "verificationMethod": [
            {"id": vm_id, "type": "Multikey", "controller": controller, "publicKeyMultibase": public_key}
        ],
        "assertionMethod": [vm_id],
    }


def ob_controller_document() -> dict[str, Any]:
    """The 1EdTech example's key as a controller document (the example's issuer URL does not
    resolve; its verification method's fragment is the Multikey public key itself)."""
    return controller_document(OB_ISSUER, f"{OB_ISSUER}#{OB_PUBLIC_KEY}", OB_PUBLIC_KEY)
