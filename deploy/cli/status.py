"""`credstream revoke|suspend|unsuspend`: status changes through the revocation service's
VC-API-shaped `POST /credentials/status` (docs/revocation.md)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from deploy.cli.context import state
from deploy.cli.endpoints import Endpoints, checked, service

CredentialArg = Annotated[str, typer.Argument(help="Credential id (urn:uuid:... or the bare uuid).")]
ReasonCode = Annotated[str, typer.Option(help="Reason code kept in the audit (never public).")]
Reason = Annotated[str | None, typer.Option(help="Free-text reason kept in the audit.")]


def credential_urn(credential: str) -> str:
    return credential if credential.startswith("urn:") else f"urn:uuid:{credential}"


async def change(
    endpoints: Endpoints, credential: str, word: str, *, reason_code: str, reason: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "credentialId": credential_urn(credential),
        "credentialStatus": [{"type": "BitstringStatusListEntry", "status": word}],
        "reasonCode": reason_code,
    }
    if reason:
        body["reason"] = reason
    async with service(endpoints, "revocation") as client:
        result: dict[str, Any] = checked(await client.post("/credentials/status", json=body), word)
        return result


def _apply(ctx: typer.Context, credential: str, word: str, reason_code: str, reason: str | None) -> None:
    cli = state(ctx)
    result = cli.run(change(cli.endpoints, credential, word, reason_code=reason_code, reason=reason))
    if cli.json_output:
        cli.emit(result)
        return
    for outcome in result.get("results", []):
        purpose, done = outcome.get("statusPurpose", ""), outcome.get("outcome", "")
        cli.console.print(f"{result['credentialId']}: {purpose} -> {word} ({done})", highlight=False)


def revoke(
    ctx: typer.Context,
    credential: CredentialArg,
    reason_code: ReasonCode = "unspecified",
    reason: Reason = None,
) -> None:
    """Revoke a credential (final)."""
    _apply(ctx, credential, "revoked", reason_code, reason)


def suspend(
    ctx: typer.Context,
    credential: CredentialArg,
    reason_code: ReasonCode = "unspecified",
    reason: Reason = None,
) -> None:
    """Suspend a credential (can be lifted with `unsuspend`)."""
    _apply(ctx, credential, "suspended", reason_code, reason)


def unsuspend(
    ctx: typer.Context,
    credential: CredentialArg,
    reason_code: ReasonCode = "unspecified",
    reason: Reason = None,
) -> None:
    """Lift a credential's suspension."""
    _apply(ctx, credential, "unsuspended", reason_code, reason)
