"""What every command shares: endpoints, output mode, and running a coroutine with the CLI's
error handling (one line on stderr and the exit code of docs/cli.md)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import typer
from rich.console import Console

from deploy.cli.endpoints import Endpoints
from deploy.cli.errors import CliError

T = TypeVar("T")


@dataclass
class CliContext:
    endpoints: Endpoints
    json_output: bool = False
    console: Console = field(default_factory=Console)
    errors: Console = field(default_factory=lambda: Console(stderr=True))

    def emit(self, data: Any) -> None:
        """Print machine-readable JSON (with --json) on stdout."""
        typer.echo(json.dumps(data, indent=2, default=str))

    def fail(self, error: CliError) -> typer.Exit:
        if self.json_output:
            self.emit({"error": error.message, "exit_code": error.exit_code, "detail": error.detail})
        else:
            self.errors.print(f"[bold red]error:[/] {error.message}", highlight=False, soft_wrap=True)
        return typer.Exit(error.exit_code)

    def attempt(self, step: Callable[[], T]) -> T:
        """Run a synchronous step (reading the operator's input) with the CLI's error handling."""
        try:
            return step()
        except CliError as error:
            raise self.fail(error) from error

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        try:
            return asyncio.run(coroutine)
        except CliError as error:
            raise self.fail(error) from error


def state(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliContext)
    return obj
