"""`credstream verify FILE|URL`: the issuance service's VC-API `POST /credentials/verify`.

A URL is fetched first (with the issuance admin token when it points at the issuance service,
whose stored credentials are read at `GET /credentials/{uuid}`). Exit code 1 when the credential
does not verify (revoked, suspended, bad proof, QA withdrawn...), with the reasons printed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from deploy.cli.context import state
from deploy.cli.endpoints import Endpoints, checked, service
from deploy.cli.errors import EXIT_FAILED, PlatformUnreachable, UsageError


async def load(endpoints: Endpoints, source: str) -> Any:
    if source.startswith(("http://", "https://")):
        ours = source.startswith(endpoints.issuance_url)
        headers = {"Authorization": f"Bearer {endpoints.issuance_token}"} if ours else {}
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                response = await client.get(source, headers=headers)
        except httpx.TransportError as error:
            raise PlatformUnreachable(f"{source}: {error}") from error
        document = checked(response, f"fetching {source}")
    else:
        try:
            document = json.loads(Path(source).read_text())  # noqa: ASYNC240 (one small file)
        except (OSError, ValueError) as error:
            raise UsageError(f"{source}: not a readable JSON file ({error})") from error
    if isinstance(document, dict) and "verifiableCredential" in document:
        document = document["verifiableCredential"]
    return document


async def check(endpoints: Endpoints, source: str) -> dict[str, Any]:
    document = await load(endpoints, source)
    async with service(endpoints, "issuance") as client:
        response = await client.post("/credentials/verify", json={"verifiableCredential": document})
    if response.status_code not in (200, 400) or "verified" not in response.text:
        checked(response, "verify")
    result: dict[str, Any] = response.json()
    result["id"] = document.get("id") if isinstance(document, dict) else None
    return result


def verify(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="A credential JSON file, or a URL serving one.")],
) -> None:
    """Verify a credential: proof, validity, revocation/suspension status and QA state."""
    cli = state(ctx)
    result = cli.run(check(cli.endpoints, source))
    if cli.json_output:
        cli.emit(result)
    else:
        verdict = "[green]verified[/]" if result.get("verified") else "[red]NOT verified[/]"
        cli.console.print(f"{result.get('id')}: {verdict}")
        table = Table("check", "result", show_header=False)
        for purpose, value in (result.get("status") or {}).items():
            table.add_row(f"status {purpose}", str(value))
        qa = result.get("qualityAssurance") or {}
        if qa:
            table.add_row("quality assurance", str(qa.get("state", qa)))
        for error in result.get("errors") or []:
            table.add_row(f"error {error.get('code')}", str(error.get("message")))
        for warning in result.get("warnings") or []:
            table.add_row(f"warning {warning.get('code')}", str(warning.get("message")))
        cli.console.print(table)
    if not result.get("verified"):
        raise typer.Exit(EXIT_FAILED)
