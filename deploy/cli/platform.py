"""`credstream up|down|status`: the local platform, through the native runner
(`deploy/local/runner.py`; the profile comes from the global `--profile`)."""

from __future__ import annotations

import contextlib
import subprocess
from typing import Any

import typer
from rich.table import Table

from deploy.cli.context import CliContext, state
from deploy.cli.errors import OperationFailed
from deploy.local import runner


def _stack(cli: CliContext) -> runner.Stack:
    return runner.Stack.for_profile(cli.endpoints.profile)


def _runner_call(cli: CliContext, action: str, step: Any, stack: runner.Stack) -> None:
    """Run a runner step; its `SystemExit(message)` becomes an operation failure (exit 1).
    With --json the runner's progress lines go to stderr, keeping stdout one JSON document."""
    out = cli.errors.file if cli.json_output else None
    try:
        with contextlib.redirect_stdout(out) if out else contextlib.nullcontext():
            step(stack)
    except (SystemExit, subprocess.CalledProcessError, OSError) as error:
        hint = f" (logs: {stack.logs})"
        raise cli.fail(OperationFailed(f"{action} failed: {error}{hint}")) from error


def components(stack: runner.Stack) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"name": "kafka", "address": stack.bootstrap_servers, "pid": stack.pids.get("kafka")},
        {
            "name": "postgres",
            "address": f"127.0.0.1:{stack.ports['postgres']}",
            "pid": stack.pids.get("postgres"),
        },
    ]
    for spec in runner.SERVICES:
        port = stack.ports[spec.name]
        rows.append(
            {"name": spec.name, "address": f"http://127.0.0.1:{port}", "pid": stack.pids.get(spec.name)}
        )
    for row in rows:
        port = int(row["address"].rsplit(":", 1)[1])
        row["running"] = runner.alive(row["pid"])
        row["listening"] = runner.port_open(port)
        if row["name"] in {s.name for s in runner.SERVICES}:
            row["ready"] = row["listening"] and runner.service_ready(port)
    return rows


def up(ctx: typer.Context) -> None:
    """Start Kafka, PostgreSQL, topics, schemas, the four services, and seed data."""
    cli = state(ctx)
    stack = _stack(cli)
    _runner_call(cli, "up", runner.up, stack)
    if cli.json_output:
        cli.emit({"profile": stack.profile, "components": components(stack)})


def down(ctx: typer.Context) -> None:
    """Stop everything the profile runs; leaves no process behind."""
    cli = state(ctx)
    stack = _stack(cli)
    _runner_call(cli, "down", runner.down, stack)
    if cli.json_output:
        cli.emit({"profile": stack.profile, "stopped": True})


def status(ctx: typer.Context) -> None:
    """What runs where. Exit code 3 when a service of the profile does not answer."""
    cli = state(ctx)
    stack = _stack(cli)
    rows = components(stack)
    if cli.json_output:
        cli.emit({"profile": stack.profile, "logs": str(stack.logs), "components": rows})
    else:
        table = Table("component", "address", "pid", "state", title=f"profile {stack.profile}")
        for row in rows:
            ok = row.get("ready", row["listening"])
            label = "[green]ready[/]" if ok else ("[yellow]starting[/]" if row["running"] else "[red]down[/]")
            table.add_row(row["name"], row["address"], str(row["pid"] or "-"), label)
        cli.console.print(table)
    if not all(row.get("ready", row["listening"]) for row in rows):
        raise typer.Exit(3)
