"""`credstream qa grant|renew|withdraw`: the QA life cycle as the reference agency runs it.

Each command signs an Open Badges 3.0 EndorsementCredential with the agency's own Ed25519 key
(deploy/tools/agency_attest.py), publishes it on `credstream.qa.submissions.v1` as the agency's
own Kafka principal, then follows the QA service's submission audit until the submission is
accepted or refused and prints the outcome (a refusal exits 1 with its reason code). The key is
`--secret-key` / `AGENCY_SECRET_KEY`, else the development key the seed file holds for the demo
agency (docs/qa.md, docs/cli.md).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from deploy.cli.context import CliContext, state
from deploy.cli.endpoints import Endpoints, checked, service
from deploy.cli.errors import OperationFailed, UsageError
from deploy.tools.agency_attest import endorsement, submit

app = typer.Typer(help="QA attestations, signed and submitted as a QA agency (the reference agency).")

REFERENCE_AGENCY = "demo-qa-agency"
SUBJECT_PREFIX = "urn:credstream:"
_SCOPE_TERMS = {"jurisdictions": "scopeJurisdiction", "eqf_levels": "scopeEqfLevel", "fields": "scopeField"}

Agency = Annotated[str, typer.Option(help="The agency's id in the QA register.")]
SecretKey = Annotated[
    str | None,
    typer.Option(
        envvar="AGENCY_SECRET_KEY",
        help="The agency's Ed25519 secret key (multibase z…); default: the seed file's development "
        "key of the demo agency.",
    ),
]
KafkaPrincipal = Annotated[
    str | None,
    typer.Option(help="Kafka principal to publish as (default: the agency's in kafka-security.json)."),
]
Wait = Annotated[float, typer.Option(help="Seconds to wait for the QA service's verdict (0: do not wait).")]
Jurisdiction = Annotated[list[str] | None, typer.Option("--jurisdiction", help="ISO 3166-1 alpha-2; repeat.")]
EqfLevel = Annotated[list[int] | None, typer.Option("--eqf-level", help="EQF level 1-8; repeat.")]
Field = Annotated[list[str] | None, typer.Option("--field", help="ISCED-F field; repeat.")]
AttestationArg = Annotated[str, typer.Argument(help="The attestation (its granting endorsement's id).")]


def moment(value: str | None, what: str) -> datetime | None:
    """An ISO 8601 date-time from the command line (no offset: UTC)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise UsageError(f"{what}: {value!r} is not an ISO 8601 date-time") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def subject_urn(subject: str) -> str:
    """`issuer:ID`, `achievement:ID` or the full `urn:credstream:…` subject."""
    urn = subject if subject.startswith(SUBJECT_PREFIX) else SUBJECT_PREFIX + subject
    kind, _, subject_id = urn.removeprefix(SUBJECT_PREFIX).partition(":")
    if kind not in ("issuer", "achievement") or not subject_id:
        raise UsageError(f"subject {subject!r}: give issuer:ID or achievement:ID")
    return urn


def agency_key(agency_id: str, given: str | None) -> str:
    if given:
        return given
    from deploy.tools.seed import DEFAULT_QA_FILE

    keys: dict[str, str] = json.loads(DEFAULT_QA_FILE.read_text()).get("agency_secret_keys", {})
    if agency_id not in keys:
        raise UsageError(f"no key for agency {agency_id}: give --secret-key or AGENCY_SECRET_KEY")
    return keys[agency_id]


def scope_terms(
    jurisdiction: list[str] | None, eqf_level: list[int] | None, field: list[str] | None
) -> dict[str, Any]:
    given = {"jurisdictions": jurisdiction, "eqf_levels": eqf_level, "fields": field}
    return {_SCOPE_TERMS[axis]: values for axis, values in given.items() if values}


class Submission:
    """One signed endorsement on its way: publish as the agency, then follow the audit."""

    def __init__(self, endpoints: Endpoints, agency_id: str, principal: str | None) -> None:
        self.endpoints, self.agency_id, self.principal = endpoints, agency_id, principal

    def kafka_principal(self) -> str:
        if self.principal:
            return self.principal
        from deploy.tools.kafka_security import load

        try:
            return load().qa_agency(self.agency_id).name
        except ValueError as error:
            raise UsageError(
                f"agency {self.agency_id} has no Kafka principal in kafka-security.json: "
                "give --kafka-principal"
            ) from error

    async def agency_name(self) -> str:
        async with service(self.endpoints, "qa") as client:
            found = checked(
                await client.get(f"/register/agencies/{self.agency_id}"), f"agency {self.agency_id}"
            )
        return str(found["name"])

    async def attestation(self, attestation_id: str) -> dict[str, Any]:
        async with service(self.endpoints, "qa") as client:
            found: dict[str, Any] = checked(
                await client.get(f"/register/attestations/{attestation_id}"), f"attestation {attestation_id}"
            )
        return found

    async def send(self, signed: dict[str, Any], *, wait: float) -> dict[str, Any]:
        access = self.endpoints.kafka_as(self.kafka_principal())
        endorsement_id = await submit(access, self.agency_id, signed)
        outcome: dict[str, Any] = {"endorsement_id": endorsement_id, "outcome": "submitted"}
        if wait <= 0:
            return outcome
        async with service(self.endpoints, "qa") as client:
            for _ in range(max(1, int(wait / 0.25))):
                audit = checked(await client.get("/admin/submissions"), "the submission audit")
                row = next((r for r in audit if r.get("endorsement_id") == endorsement_id), None)
                if row is not None:
                    break
                await asyncio.sleep(0.25)
            else:
                raise OperationFailed(f"{endorsement_id}: no verdict from the QA service within {wait:g} s")
        outcome |= {"outcome": row["outcome"], "reason": row["reason"], "message": row["message"]}
        if row["outcome"] != "accepted":
            raise OperationFailed(f"refused: {row['reason']}: {row['message']}", detail=outcome)
        return outcome


def _subject_of(attestation: dict[str, Any]) -> str:
    return f"{SUBJECT_PREFIX}{attestation['subject']['kind']}:{attestation['subject']['id']}"


def _report(cli: CliContext, action: str, outcome: dict[str, Any], attestation_id: str) -> None:
    outcome["attestation_id"] = attestation_id
    if cli.json_output:
        cli.emit(outcome)
    else:
        cli.console.print(f"{action} {attestation_id} ({outcome['outcome']})", highlight=False)


@app.command("grant")
def grant(
    ctx: typer.Context,
    subject: Annotated[
        str, typer.Argument(help="issuer:ID or achievement:ID (or the urn:credstream: form).")
    ],
    *,
    agency: Agency = REFERENCE_AGENCY,
    standard: Annotated[str, typer.Option(help="The standard applied.")] = "ESG 2015",
    decision: Annotated[
        str, typer.Option(help="positive, positive_with_conditions or negative.")
    ] = "positive",
    report_url: Annotated[str | None, typer.Option(help="The report, e.g. a DEQAR permalink.")] = None,
    jurisdiction: Jurisdiction = None,
    eqf_level: EqfLevel = None,
    field: Field = None,
    valid_from: Annotated[str | None, typer.Option(help="ISO 8601 (default: now).")] = None,
    valid_until: Annotated[str | None, typer.Option(help="ISO 8601 (default: a year from now).")] = None,
    secret_key: SecretKey = None,
    kafka_principal: KafkaPrincipal = None,
    wait: Wait = 30,
) -> None:
    """Attest a provider (issuer:ID) or one micro-credential (achievement:ID)."""
    cli = state(ctx)
    urn = cli.attempt(lambda: subject_urn(subject))
    key = cli.attempt(lambda: agency_key(agency, secret_key))
    start, end = cli.attempt(
        lambda: (moment(valid_from, "--valid-from"), moment(valid_until, "--valid-until"))
    )
    submission = Submission(cli.endpoints, agency, kafka_principal)

    async def run() -> dict[str, Any]:
        claims: dict[str, Any] = {
            "standard": standard,
            "decision": decision,
            **scope_terms(jurisdiction, eqf_level, field),
        }
        if report_url:
            claims["reportUrl"] = report_url
        signed = endorsement(
            key, urn, valid_from=start, valid_until=end, agencyName=await submission.agency_name(), **claims
        )
        return await submission.send(signed, wait=wait)

    outcome = cli.run(run())
    _report(cli, "granted", outcome, outcome["endorsement_id"])


@app.command("renew")
def renew(
    ctx: typer.Context,
    attestation_id: AttestationArg,
    *,
    agency: Agency = REFERENCE_AGENCY,
    valid_until: Annotated[str | None, typer.Option(help="ISO 8601 (default: a year from now).")] = None,
    jurisdiction: Jurisdiction = None,
    eqf_level: EqfLevel = None,
    field: Field = None,
    secret_key: SecretKey = None,
    kafka_principal: KafkaPrincipal = None,
    wait: Wait = 30,
) -> None:
    """Renew an attestation with a new validUntil. The scope stays; a scope option given replaces
    that axis (a renewal may narrow the scope, never widen it)."""
    cli = state(ctx)
    key = cli.attempt(lambda: agency_key(agency, secret_key))
    end = cli.attempt(lambda: moment(valid_until, "--valid-until"))
    submission = Submission(cli.endpoints, agency, kafka_principal)

    async def run() -> dict[str, Any]:
        current = await submission.attestation(attestation_id)
        narrowed = scope_terms(jurisdiction, eqf_level, field)
        kept = {_SCOPE_TERMS[axis]: values for axis, values in current["scope"].items()}
        claims: dict[str, Any] = {"standard": current["standard"], "decision": current["decision"]}
        if current.get("report_url"):
            claims["reportUrl"] = current["report_url"]
        until = end or datetime.now(UTC) + timedelta(days=365)
        signed = endorsement(
            key, _subject_of(current), valid_until=until, agencyName=await submission.agency_name(),
            attestationAction="renew", attestation=attestation_id, **claims, **{**kept, **narrowed},
        )  # fmt: skip
        return await submission.send(signed, wait=wait)

    _report(cli, "renewed", cli.run(run()), attestation_id)


@app.command("withdraw")
def withdraw(
    ctx: typer.Context,
    attestation_id: AttestationArg,
    *,
    agency: Agency = REFERENCE_AGENCY,
    effective: Annotated[
        str | None,
        typer.Option(help="ISO 8601 date-time the withdrawal takes effect (may be past; default now)."),
    ] = None,
    secret_key: SecretKey = None,
    kafka_principal: KafkaPrincipal = None,
    wait: Wait = 30,
) -> None:
    """Withdraw an attestation, now or from --effective (credentials issued on or after it may be
    suspended, by the issuer's withdrawal policy)."""
    cli = state(ctx)
    key = cli.attempt(lambda: agency_key(agency, secret_key))
    start = cli.attempt(lambda: moment(effective, "--effective"))
    submission = Submission(cli.endpoints, agency, kafka_principal)

    async def run() -> dict[str, Any]:
        current = await submission.attestation(attestation_id)
        signed = endorsement(
            key, _subject_of(current), valid_from=start, agencyName=await submission.agency_name(),
            attestationAction="withdraw", attestation=attestation_id, standard=current["standard"],
            decision=current["decision"],
        )  # fmt: skip
        return await submission.send(signed, wait=wait)

    _report(cli, "withdrawn", cli.run(run()), attestation_id)
