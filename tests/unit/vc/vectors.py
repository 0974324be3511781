"""Known-answer data for Data Integrity proofs, copied from the specifications (never read from
outside the project at test time).

* W3C "Data Integrity EdDSA Cryptosuites v1.0" (Recommendation, 2025), Appendix A "Test Vectors":
  the Ed25519 key pair (A.1), the `eddsa-rdfc-2022` signed credential (A.2), the `eddsa-jcs-2022`
  signed credential (A.4), and the W3C VC examples context they use.
* 1EdTech Open Badges 3.0 Implementation Guide, "Linked Data Proof" example (OB 3.0 credential
  signed with `eddsa-rdfc-2022`; its verification method is an HTTPS URL whose fragment is the
  Multikey public key).
"""

from __future__ import annotations

from typing import Any

EXAMPLES_CONTEXT_URL = "https://www.w3.org/ns/credentials/examples/v2"
EXAMPLES_CONTEXT: dict[str, Any] = {"@context": {"@vocab": "https://www.w3.org/ns/credentials/examples#"}}

W3C_PUBLIC_KEY = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
W3C_SECRET_KEY = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq"
W3C_VM = f"did:key:{W3C_PUBLIC_KEY}#{W3C_PUBLIC_KEY}"


def w3c_unsigned() -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2", EXAMPLES_CONTEXT_URL],
        "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
        "type": ["VerifiableCredential", "AlumniCredential"],
        "name": "Alumni Credential",
        "description": "A minimum viable example of an Alumni Credential.",
        "issuer": "https://vc.example/issuers/5678",
        "validFrom": "2023-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"},
    }


W3C_RDFC_PROOF: dict[str, Any] = {
    "type": "DataIntegrityProof",
    "cryptosuite": "eddsa-rdfc-2022",
    "created": "2023-02-24T23:36:38Z",
    "verificationMethod": W3C_VM,
    "proofPurpose": "assertionMethod",
    "proofValue": "z2YwC8z3ap7yx1nZYCg4L3j3ApHsF8kgPdSb5xoS1VR7vPG3F561B52hYnQF9iseabecm3ijx4K1FBTQsCZahKZme",
}

W3C_JCS_PROOF: dict[str, Any] = {
    "type": "DataIntegrityProof",
    "cryptosuite": "eddsa-jcs-2022",
    "created": "2023-02-24T23:36:38Z",
    "verificationMethod": W3C_VM,
    "proofPurpose": "assertionMethod",
    "@context": ["https://www.w3.org/ns/credentials/v2", EXAMPLES_CONTEXT_URL],
    "proofValue": "z2HnFSSPPBzR36zdDgK8PbEHeXbR56YF24jwMpt3R1eHXQzJDMWS93FCzpvJpwTWd3GAVFuUfjoJdcnTMuVor51aX",
}

OB_ISSUER = "https://example.edu/issuers/565049"
OB_PUBLIC_KEY = "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"


def ob_signed() -> dict[str, Any]:
    return {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "id": "http://example.com/credentials/3527",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {
            "id": OB_ISSUER,
            "type": ["Profile"],
            "url": "https://www.imsglobal.org",
            "name": "Example Corp",
        },
        "validFrom": "2010-01-01T00:00:00Z",
        "name": "Teamwork Badge",
        "credentialSubject": {
            "id": "did:example:ebfeb1f712ebc6f1c276e12ec21",
            "type": ["AchievementSubject"],
            "achievement": {
                "id": "https://example.com/achievements/21st-century-skills/teamwork",
                "type": ["Achievement"],
                "criteria": {
                    "narrative": "Team members are nominated for this badge by their peers and recognized "
                    "upon review by Example Corp management."
                },
                "description": "This badge recognizes the development of the capacity to collaborate "
                "within a group environment.",
                "name": "Teamwork",
            },
        },
        "proof": {
            "type": "DataIntegrityProof",
            "created": "2010-01-01T19:23:24Z",
            "verificationMethod": f"{OB_ISSUER}#{OB_PUBLIC_KEY}",
            "cryptosuite": "eddsa-rdfc-2022",
            "proofPurpose": "assertionMethod",
            "proofValue": (
                "z5x9aCBYovW3CQCbKdNyhEm7ffYSw1YpEdPywQJoNbzDD2gkzQDKJ1sYKJaWvqZtkMtSbz35HcbgXVEDYHxCzgkCr"
            ),
        },
    }


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
