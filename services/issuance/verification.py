"""Verification of credentials (VC-API `POST /credentials/verify`): proof, issuer binding,
validity window and profile. The same code verifies what we issue and what others issue.

QA: the state of the attestation the credential names (`achievement.qualityAssurance.attestation`)
is reported from issuance's QA view: `valid`, `expired`, `withdrawn` (a warning, not a failure:
the credential was issued while it was valid), `unknown`, or `none` (no external QA).

Status (W3C Bitstring Status List): `check_status` runs the spec's validate algorithm for every
`BitstringStatusListEntry` (vc/status.py): the list is fetched (cached within its
`ttl`), its proof and issuer verified, and the bit read. A revoked or suspended credential does not
verify; a list that cannot be fetched or verified, is too short, or an index out of range is an
explicit error, never "valid".
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from services.issuance.assurance import QaAttestation
from services.issuance.fetch_guard import FetchPolicy
from services.issuance.profile import SCHEMA_URL, validate_profile
from vc import status
from vc.dates import parse_datetime
from vc.keys import KeyResolver
from vc.proofs import ProofError, verify_proof

_MAX_LIST_BYTES = 8 * 1024 * 1024


@dataclass(slots=True)
class VerificationResult:
    verified: bool = True
    checks: list[str] = field(default_factory=list)
    status: dict[str, str] = field(default_factory=dict)
    warnings: list[dict[str, str]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    quality_assurance: dict[str, Any] | None = None

    def fail(self, code: str, message: str) -> None:
        self.verified = False
        self.errors.append({"code": code, "message": message})

    def as_json(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "checks": self.checks,
            **({"status": self.status} if self.status else {}),
            "warnings": self.warnings,
            "errors": self.errors,
            **({"qualityAssurance": self.quality_assurance} if self.quality_assurance is not None else {}),
        }


def issuer_id_of(document: dict[str, Any]) -> str | None:
    issuer = document.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def verify_credential(
    document: Any, *, resolver: KeyResolver, now: datetime | None = None
) -> VerificationResult:
    result = VerificationResult()
    if not isinstance(document, dict):
        result.fail("MALFORMED_CREDENTIAL", "verifiableCredential must be a JSON object")
        return result
    types = document.get("type")
    if not isinstance(types, list) or "VerifiableCredential" not in types:
        result.fail("MALFORMED_CREDENTIAL", "type must be a list containing VerifiableCredential")
    issuer = issuer_id_of(document)
    if issuer is None:
        result.fail("MALFORMED_CREDENTIAL", "the credential has no issuer id")

    result.checks.append("proof")
    try:
        proof = verify_proof(document, resolver=resolver, now=now)
    except ProofError as error:
        result.fail(error.code, error.message)
    else:
        if issuer is not None and proof.controller != issuer:
            result.fail(
                "ISSUER_MISMATCH",
                f"the proof's key is controlled by {proof.controller}, not by the issuer {issuer}",
            )

    result.checks.append("validity")
    moment = now or datetime.now(UTC)
    valid_from, valid_until = (
        parse_datetime(document.get("validFrom")),
        parse_datetime(document.get("validUntil")),
    )
    if "validFrom" in document and valid_from is None:
        result.fail("MALFORMED_CREDENTIAL", "validFrom is not a dateTime")
    elif valid_from is not None and valid_from > moment:
        result.fail("NOT_YET_VALID", f"the credential is valid from {document['validFrom']}")
    if "validUntil" in document and valid_until is None:
        result.fail("MALFORMED_CREDENTIAL", "validUntil is not a dateTime")
    elif valid_until is not None and valid_until < moment:
        result.fail("EXPIRED", f"the credential expired at {document['validUntil']}")

    schemas = document.get("credentialSchema")
    schema_ids = {s.get("id") for s in schemas if isinstance(s, dict)} if isinstance(schemas, list) else set()
    if isinstance(schemas, dict):
        schema_ids = {schemas.get("id")}
    if SCHEMA_URL in schema_ids:
        result.checks.append("credentialSchema")
        for problem in validate_profile(document)[:10]:
            result.fail("SCHEMA_INVALID", problem)

    return result


async def check_status(
    document: Any,
    result: VerificationResult,
    *,
    fetch: status.Fetch,
    resolver_for: Callable[[dict[str, Any]], Awaitable[KeyResolver]],
    cache: status.ListCache | None = None,
    now: datetime | None = None,
) -> None:
    """Add the status of every `credentialStatus` entry to `result` (spec section 3.2). With
    `cache` (the fetcher's), a list fetched once is verified once while it stays cached."""
    if not isinstance(document, dict) or "credentialStatus" not in document:
        return
    result.checks.append("credentialStatus")
    issuer = issuer_id_of(document)

    async def verify_list(list_credential: dict[str, Any]) -> None:
        if issuer_id_of(list_credential) != issuer:
            raise status.StatusError(
                "STATUS_VERIFICATION_ERROR", "the status list is not issued by the credential's issuer"
            )
        if cache is not None and cache.is_verified(list_credential):
            return
        try:
            verify_proof(list_credential, resolver=await resolver_for(list_credential), now=now)
        except ProofError as error:
            raise status.StatusError(
                "STATUS_VERIFICATION_ERROR", f"the status list's proof does not verify: {error.message}"
            ) from error
        if cache is not None:
            cache.mark_verified(list_credential)

    for entry in status.entries_of(document):
        purpose = str(entry.get("statusPurpose"))
        try:
            outcome = await status.check_status(entry, fetch=fetch, verify_list=verify_list, now=now)
        except status.StatusError as error:
            result.status[purpose] = "error"
            result.fail(error.code, error.message)
            continue
        if not outcome.status:
            result.status[purpose] = "valid"
        elif purpose == "revocation":
            result.status[purpose] = "revoked"
            result.fail("REVOKED", "the credential has been revoked")
        elif purpose == "suspension":
            result.status[purpose] = "suspended"
            result.fail("SUSPENDED", "the credential is suspended")
        else:
            result.status[purpose] = "set"
            result.warnings.append({"code": "STATUS_SET", "message": f"the {purpose} status bit is set"})


def http_fetcher(client: httpx.AsyncClient, cache: status.ListCache, policy: FetchPolicy) -> status.Fetch:
    """Dereferences status list URLs over HTTP(S), cached within each list's `ttl`. `client` is
    the guarded client of services/issuance/fetch_guard.py, which refuses private addresses when
    it connects; `policy` refuses what the URL alone shows (scheme, host) before any I/O."""

    async def fetch(url: str) -> dict[str, Any]:
        policy.check_url(url)
        cached = cache.get(url)
        if cached is not None:
            return cached
        try:
            async with client.stream("GET", url, timeout=5.0, follow_redirects=False) as response:
                if response.status_code != 200:
                    raise status.StatusError(
                        "STATUS_RETRIEVAL_ERROR", f"{url} answered {response.status_code}"
                    )
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > _MAX_LIST_BYTES:  # read no further than the limit
                        raise status.StatusError("STATUS_RETRIEVAL_ERROR", f"{url} is larger than 8 MiB")
        except httpx.HTTPError as error:
            raise status.StatusError(
                "STATUS_RETRIEVAL_ERROR", f"{url} could not be fetched: {error}"
            ) from error
        try:
            document = json.loads(body)
        except ValueError as error:
            raise status.StatusError("STATUS_RETRIEVAL_ERROR", f"{url} is not JSON") from error
        if not isinstance(document, dict):
            raise status.StatusError("STATUS_RETRIEVAL_ERROR", f"{url} is not a JSON object")
        cache.put(url, document)
        return document

    return fetch


def attestation_named(document: Any) -> str | None:
    """The attestation id in the credential's "type of quality assurance" element, if any."""
    try:
        qa = document["credentialSubject"]["achievement"]["qualityAssurance"]
    except (KeyError, TypeError):
        return None
    value = qa.get("attestation") if isinstance(qa, dict) else None
    return value if isinstance(value, str) else None


def check_quality_assurance(
    result: VerificationResult,
    document: Any,
    attestation: QaAttestation | None,
    *,
    now: datetime | None = None,
) -> None:
    """Report the QA state of the attestation the credential names (never a failure by itself)."""
    result.checks.append("qualityAssurance")
    named = attestation_named(document)
    if named is None:
        result.quality_assurance = {"state": "none"}
        return
    if attestation is None:
        result.quality_assurance = {"state": "unknown", "attestation": named}
        result.warnings.append({"code": "QA_UNKNOWN", "message": f"attestation {named} is not known here"})
        return
    state = attestation.state(now or datetime.now(UTC))
    result.quality_assurance = {
        "state": state,
        "attestation": named,
        "agency": attestation.agency_did,
        "agencyName": attestation.agency_name,
        "standard": attestation.standard,
        "decision": attestation.decision,
        "validUntil": attestation.valid_until.isoformat() if attestation.valid_until else None,
        "withdrawnAt": attestation.withdrawn_at.isoformat() if attestation.withdrawn_at else None,
    }
    if state != "valid":
        result.warnings.append({"code": f"QA_{state.upper()}", "message": f"attestation {named} is {state}"})
