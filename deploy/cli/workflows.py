"""`credstream issue`, `simulate` and `demo`: the long-running commands, with progress bars."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from deploy.cli import awards
from deploy.cli.context import CliContext, state
from deploy.cli.errors import EXIT_FAILED, UsageError
from deploy.cli.simulation import (
    DEMO_ISSUER,
    SimulationOptions,
    comparison,
    demo_links,
    issued_for,
    load_rules,
    make_plan,
    run_plan,
    seed_demo,
)


def _progress(cli: CliContext) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=cli.errors,  # stderr: stdout stays clean for output and --json
        disable=cli.json_output,
        transient=False,
    )


def issue(
    ctx: typer.Context,
    *,
    csv_file: Annotated[
        Path | None,
        typer.Option("--csv", help="Batch: issuer_id,achievement_id,learner_id[,email,name,award]."),
    ] = None,
    issuer: Annotated[str | None, typer.Option(help="Issuer of a single award.")] = None,
    achievement: Annotated[str | None, typer.Option(help="Achievement of a single award.")] = None,
    learner: Annotated[str | None, typer.Option(help="Learner reference of a single award.")] = None,
    email: Annotated[str | None, typer.Option(help="Learner e-mail (kept by the issuer only).")] = None,
    name: Annotated[str | None, typer.Option(help="Learner name.")] = None,
    award: Annotated[int, typer.Option(min=1, help="Award number (1 unless re-awarding).")] = 1,
    wait: Annotated[bool, typer.Option(help="Wait for each credential (or its parked reason).")] = True,
    within: Annotated[float, typer.Option(help="Seconds to wait for the credentials.")] = 60.0,
) -> None:
    """Award an achievement (publishes achievement.earned; issuance signs the credential).

    Exit code 1 when any row is invalid or not issued in time; parked awards (waiting for QA or
    status indexes) are reported with their reason.
    """
    cli = state(ctx)
    if csv_file is not None:
        if any((issuer, achievement, learner)):
            raise cli.fail(UsageError("give either --csv or --issuer/--achievement/--learner"))
        rows = cli.attempt(lambda: awards.read_csv(csv_file))
    elif issuer and achievement and learner:
        rows = [awards.AwardRow(1, issuer, achievement, learner, email=email, name=name, award=award)]
    else:
        raise cli.fail(UsageError("give --issuer, --achievement and --learner, or --csv FILE"))

    async def go() -> None:
        revisions = await awards.validate(cli.endpoints, rows)
        valid = sum(r.outcome != "invalid" for r in rows)
        with _progress(cli) as bars:
            sent = bars.add_task("published", total=valid)
            await awards.publish(cli.endpoints, rows, revisions, lambda n: bars.advance(sent, n))
            if wait:
                done = bars.add_task("credentials", total=valid)
                await awards.await_credentials(
                    cli.endpoints, rows, within_s=within, advance=lambda n: bars.advance(done, n)
                )

    cli.run(go())
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.outcome] = counts.get(row.outcome, 0) + 1
    failures = [r for r in rows if r.outcome in ("invalid", "timed_out")]
    if cli.json_output:
        cli.emit({"summary": counts, "rows": [r.as_json() for r in rows]})
    else:
        if len(rows) == 1 and rows[0].credential_id:
            cli.console.print(f"issued {rows[0].credential_id}", highlight=False)
        cli.console.print("summary: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        problems = [r for r in rows if r.outcome in ("invalid", "timed_out", "parked")]
        if problems:
            table = Table("line", "learner", "achievement", "outcome", "detail", title="not issued")
            for r in problems:
                table.add_row(str(r.line), r.learner_id, r.achievement_id, r.outcome, r.detail)
            cli.console.print(table)
    if failures:
        raise typer.Exit(EXIT_FAILED)


def _options(**values: Any) -> SimulationOptions:
    values["achievement_ids"] = tuple(values.get("achievement_ids") or ())
    formats = values.get("formats") or ""
    values["formats"] = tuple(f.strip() for f in formats.split(",") if f.strip())
    return SimulationOptions(**values)


FormatsOption = Annotated[
    str | None,
    typer.Option(
        "--formats",
        help="Comma-separated formats to mix, one per learner: credstream,xapi,caliper,lti "
        "(default: all four when an LMS is configured for the issuer, else credstream).",
    ),
]
LmsConfigOption = Annotated[
    Path | None,
    typer.Option("--lms-config", help="LMS configuration (default: deploy/config/lms.json)."),
]
LmsSourceOption = Annotated[
    str | None, typer.Option("--lms-source", help="CloudEvents source of the LMS to simulate.")
]


async def _simulate(cli: CliContext, options: SimulationOptions) -> tuple[dict[str, Any], Any]:
    rules = await load_rules(cli.endpoints, options)
    simulation = make_plan(rules, options)
    expected = len(simulation.expected_earned) + simulation.expected_dlq
    with _progress(cli) as bars:
        sent = bars.add_task("records sent", total=len(simulation.sends))
        processed = bars.add_task("earned + dead letters", total=expected)
        observed = await run_plan(
            cli.endpoints,
            simulation,
            options,
            sent=lambda n: bars.advance(sent, n),
            processed=lambda n: bars.advance(processed, n),
        )
    return comparison(simulation, observed), simulation


def _print_comparison(cli: CliContext, result: dict[str, Any]) -> None:
    table = Table("", "generated", "observed", title=f"simulator run {result['run_id']}")
    table.add_row("records sent", str(result["records"]), "")
    table.add_row("learners", str(result["learners"]), "")
    for key in ("passes", "fails", "retakes", "duplicates"):
        table.add_row(key, str(result[key]), "")
    table.add_row("achievement.earned", str(result["expected_earned"]), str(result["observed_earned"]))
    table.add_row("dead letters (malformed)", str(result["expected_dlq"]), str(result["observed_dlq"]))
    cli.console.print(table)
    formats = Table("format", "learners", "records", "malformed", title="per format")
    for name, counts in result.get("formats", {}).items():
        formats.add_row(name, str(counts["learners"]), str(counts["records"]), str(counts["malformed"]))
    cli.console.print(formats)
    verdict = "[green]match[/]" if result["match"] else "[red]MISMATCH[/]"
    cli.console.print(f"generated vs observed: {verdict}")


def simulate(
    ctx: typer.Context,
    *,
    issuer: Annotated[str, typer.Option(help="The issuer whose achievements are simulated.")] = DEMO_ISSUER,
    learners: Annotated[int, typer.Option(min=1, help="Number of learners.")] = 50,
    achievement: Annotated[
        list[str] | None, typer.Option(help="Only these achievements (repeatable; default: all active).")
    ] = None,
    achievements_file: Annotated[
        Path | None, typer.Option(help="Read criteria from a seed file instead of the issuance API.")
    ] = None,
    extra_courses: Annotated[int, typer.Option(min=0, help="Activities no achievement requires.")] = 2,
    duplicate_rate: Annotated[float, typer.Option(min=0, max=1)] = 0.05,
    malformed_rate: Annotated[float, typer.Option(min=0, max=1)] = 0.02,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same stream shape).")] = None,
    within: Annotated[float, typer.Option(help="Seconds to wait for the platform.")] = 120.0,
    settle: Annotated[float, typer.Option(help="Seconds to keep counting after the expected counts.")] = 3.0,
    formats: FormatsOption = None,
    lms_config: LmsConfigOption = None,
    lms_source: LmsSourceOption = None,
) -> None:
    """Run the LMS simulator and compare generated with observed counts (exit 1 on mismatch)."""
    cli = state(ctx)
    options = _options(
        issuer_id=issuer, learners=learners, achievement_ids=achievement, achievements_file=achievements_file,
        extra_courses=extra_courses, duplicate_rate=duplicate_rate, malformed_rate=malformed_rate, seed=seed,
        within_s=within, settle_s=settle, formats=formats, lms_config=lms_config, lms_source=lms_source,
    )  # fmt: skip
    result, _ = cli.run(_simulate(cli, options))
    if cli.json_output:
        cli.emit(result)
    else:
        _print_comparison(cli, result)
    if not result["match"]:
        raise typer.Exit(EXIT_FAILED)


def demo(
    ctx: typer.Context,
    *,
    learners: Annotated[int, typer.Option(min=1, help="Number of simulated learners.")] = 20,
    seed: Annotated[int | None, typer.Option(help="Random seed of the simulator.")] = None,
    within: Annotated[float, typer.Option(help="Seconds to wait for the platform.")] = 120.0,
    formats: FormatsOption = None,
    lms_config: LmsConfigOption = None,
    lms_source: LmsSourceOption = None,
) -> None:
    """Seed the demo issuer, achievements and QA agency (if missing), simulate an LMS, and print
    a summary with links (credentials, verification, status lists, QA register)."""
    cli = state(ctx)
    options = _options(
        issuer_id=DEMO_ISSUER, learners=learners, seed=seed, within_s=within, formats=formats,
        lms_config=lms_config, lms_source=lms_source,
    )  # fmt: skip

    async def go() -> dict[str, Any]:
        seeded = await seed_demo(cli.endpoints)
        result, simulation = await _simulate(cli, options)
        requests = await issued_for(
            cli.endpoints, simulation, DEMO_ISSUER, expected=result["observed_earned"], within_s=within
        )
        issued = [r for r in requests if r["state"] == "issued"]
        example = None
        if issued:
            from contracts.ids import credential_id

            example = credential_id(issued[0]["earned_id"]).removeprefix("urn:uuid:")
        links = await demo_links(cli.endpoints, DEMO_ISSUER, example)
        return {
            "seeded": seeded,
            "simulation": result,
            "issued_credentials": len(issued),
            "parked": [
                {"learner_id": r["learner_id"], "reason": r["reason"]}
                for r in requests
                if r["state"] == "parked"
            ],
            "links": links,
        }

    summary = cli.run(go())
    if cli.json_output:
        cli.emit(summary)
    else:
        _print_comparison(cli, summary["simulation"])
        cli.console.print(f"issued credentials: [bold]{summary['issued_credentials']}[/]")
        for parked in summary["parked"]:
            cli.console.print(f"parked: {parked['learner_id']}: {parked['reason']}")
        for name, link in summary["links"].items():
            cli.console.print(f"  {name:<18} {link}", highlight=False, soft_wrap=True)
    ok = (
        summary["simulation"]["match"]
        and summary["issued_credentials"] == summary["simulation"]["observed_earned"]
    )
    if not ok:
        raise typer.Exit(EXIT_FAILED)
