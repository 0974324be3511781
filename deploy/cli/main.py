"""The `credstream` command line: run the local platform, define achievements, issue, change
status, verify, watch topics and simulate an LMS (docs/cli.md).

Exit codes: 0 done, 1 the operation failed (the platform refused it, a batch had failures, a
credential did not verify), 2 usage (bad flags, unreadable input), 3 the platform is not reachable.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from deploy.cli import achievements, dlq, platform, qa, status, tail, verify, workflows
from deploy.cli.context import CliContext
from deploy.cli.endpoints import Endpoints

app = typer.Typer(
    name="credstream",
    help=__doc__,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(achievements.app, name="achievements")
app.add_typer(dlq.app, name="dlq")
app.add_typer(qa.app, name="qa")


def _url(service: str) -> Any:
    return typer.Option(
        f"--{service}-url", envvar=f"CREDSTREAM_{service.upper()}_URL", help=f"The {service} service."
    )


@app.callback()
def main(
    ctx: typer.Context,
    *,
    profile: Annotated[
        str, typer.Option(envvar="CREDSTREAM_PROFILE", help="Local platform profile (ports, data).")
    ] = "default",
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
    assessment_url: Annotated[str | None, _url("assessment")] = None,
    issuance_url: Annotated[str | None, _url("issuance")] = None,
    qa_url: Annotated[str | None, _url("qa")] = None,
    revocation_url: Annotated[str | None, _url("revocation")] = None,
    kafka: Annotated[
        str | None, typer.Option(envvar="CREDSTREAM_KAFKA", help="Kafka bootstrap servers.")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="CREDSTREAM_TOKEN",
            help="Bearer token for every service (an operator's or an issuer's; default: the local "
            "profile's operator token).",
        ),
    ] = None,
    issuance_token: Annotated[
        str | None, typer.Option(envvar="CREDSTREAM_ISSUANCE_TOKEN", help="Token for issuance only.")
    ] = None,
    revocation_token: Annotated[
        str | None, typer.Option(envvar="CREDSTREAM_REVOCATION_TOKEN", help="Token for revocation only.")
    ] = None,
    qa_token: Annotated[
        str | None, typer.Option(envvar="CREDSTREAM_QA_TOKEN", help="Token for qa only.")
    ] = None,
    kafka_credentials: Annotated[
        str | None,
        typer.Option(
            envvar="CREDSTREAM_KAFKA_CREDENTIALS",
            help="Kafka credential store (default: the profile's var/<profile>/kafka/credentials.json).",
        ),
    ] = None,
) -> None:
    """Operate a credstream platform. URLs default to the local profile's ports on 127.0.0.1."""
    endpoints = Endpoints.resolve(
        profile,
        assessment_url=assessment_url,
        issuance_url=issuance_url,
        qa_url=qa_url,
        revocation_url=revocation_url,
        kafka=kafka,
        token=token,
        issuance_token=issuance_token,
        revocation_token=revocation_token,
        qa_token=qa_token,
        kafka_credentials=kafka_credentials,
    )
    ctx.obj = CliContext(endpoints=endpoints, json_output=json_output)


app.command("up")(platform.up)
app.command("down")(platform.down)
app.command("status")(platform.status)
app.command("issue")(workflows.issue)
app.command("revoke")(status.revoke)
app.command("suspend")(status.suspend)
app.command("unsuspend")(status.unsuspend)
app.command("verify")(verify.verify)
app.command("tail")(tail.tail)
app.command("simulate")(workflows.simulate)
app.command("demo")(workflows.demo)


def run() -> None:
    """Console-script entry point (`credstream`)."""
    app()
