"""`credstream achievements create|list|show`: micro-credential specifications through the
issuance admin API (`PUT /admin/achievements/{id}`, `GET /admin/achievements[/{id}]`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from deploy.cli.context import state
from deploy.cli.endpoints import Endpoints, checked, service
from deploy.cli.errors import UsageError

app = typer.Typer(help="Micro-credential specifications (achievements) of the issuance service.")


async def list_achievements(endpoints: Endpoints, issuer_id: str | None = None) -> list[dict[str, Any]]:
    async with service(endpoints, "issuance") as client:
        params = {"issuer_id": issuer_id} if issuer_id else {}
        found: list[dict[str, Any]] = checked(
            await client.get("/admin/achievements", params=params), "listing achievements"
        )
        return found


def read_definitions(path: Path) -> list[dict[str, Any]]:
    """One achievement, a list of them, or a seed file's `{"achievements": [...]}`."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UsageError(f"{path}: not a readable JSON file ({error})") from error
    if isinstance(data, dict) and "achievements" in data:
        data = data["achievements"]
    definitions = data if isinstance(data, list) else [data]
    for definition in definitions:
        if not isinstance(definition, dict) or not definition.get("achievement_id"):
            raise UsageError(f"{path}: every achievement needs an achievement_id")
    return definitions


async def create(endpoints: Endpoints, definitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    created = []
    async with service(endpoints, "issuance") as client:
        for definition in definitions:
            achievement_id = definition["achievement_id"]
            response = await client.put(f"/admin/achievements/{achievement_id}", json=definition)
            created.append(checked(response, f"achievement {achievement_id}"))
    return created


@app.command("create")
def create_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="JSON: one achievement, a list, or a seed file.")],
) -> None:
    """Define (or update) achievements from a JSON file; prints each revision."""
    cli = state(ctx)
    definitions = cli.attempt(lambda: read_definitions(file))
    created = cli.run(create(cli.endpoints, definitions))
    if cli.json_output:
        cli.emit(created)
        return
    for item in created:
        cli.console.print(f"achievement [bold]{item['achievement_id']}[/]: revision {item['revision']}")


@app.command("list")
def list_command(
    ctx: typer.Context,
    issuer: Annotated[str | None, typer.Option(help="Only this issuer's achievements.")] = None,
) -> None:
    """List achievements with their criteria."""
    cli = state(ctx)
    found = cli.run(list_achievements(cli.endpoints, issuer))
    if cli.json_output:
        cli.emit(found)
        return
    table = Table("achievement", "issuer", "name", "rev", "status", "criteria")
    for a in found:
        table.add_row(
            a["achievement_id"], a["issuer_id"], a["name"], str(a["revision"]), a.get("status", ""),
            describe_criteria(a["criteria"]),
        )  # fmt: skip
    cli.console.print(table)


@app.command("show")
def show_command(
    ctx: typer.Context, achievement_id: Annotated[str, typer.Argument(help="The achievement id.")]
) -> None:
    """Show one achievement's full definition."""
    cli = state(ctx)

    async def find() -> dict[str, Any]:
        async with service(cli.endpoints, "issuance") as client:
            found: dict[str, Any] = checked(
                await client.get(f"/admin/achievements/{achievement_id}"), f"achievement {achievement_id}"
            )
        return found

    achievement = cli.run(find())
    if cli.json_output:
        cli.emit(achievement)
    else:
        cli.console.print_json(data=achievement)


def describe_criteria(criteria: dict[str, Any]) -> str:
    parts = [f"{len(criteria['required_activity_ids'])} activities"]
    if criteria.get("min_scaled_score") is not None:
        parts.append(f"score >= {criteria['min_scaled_score']}")
    if criteria.get("require_success"):
        parts.append("success")
    return ", ".join(parts)
