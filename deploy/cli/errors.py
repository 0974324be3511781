"""Exit codes of the CLI and the errors that carry them (docs/cli.md, "Exit codes")."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


class CliError(Exception):
    """An error reported to the operator as one line on stderr, with its exit code."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, detail: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class OperationFailed(CliError):
    """The platform answered, and refused or failed the operation."""

    exit_code = EXIT_FAILED


class UsageError(CliError):
    """The operator's input is wrong (a file that is not JSON, a CSV without its columns)."""

    exit_code = EXIT_USAGE


class PlatformUnreachable(CliError):
    """A service or the Kafka broker did not answer at all."""

    exit_code = EXIT_UNREACHABLE
