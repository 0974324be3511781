"""`credstream simulate` and `credstream demo`: run the LMS simulator through the platform and
compare what it generated with what the platform did."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.cli.achievements import list_achievements
from deploy.cli.endpoints import Endpoints, checked, service
from deploy.cli.errors import OperationFailed, UsageError
from deploy.cli.formats import DEFAULT_LMS_CONFIG, FORMATS, LmsTarget, encoders
from deploy.cli.simulator import AchievementRule, Plan, ResultEncoder, plan
from deploy.cli.streams import Observed, Progress, RunObserver, publish_plan

DEMO_ISSUER = "open-university"


@dataclass(frozen=True)
class SimulationOptions:
    issuer_id: str = DEMO_ISSUER
    learners: int = 50
    achievement_ids: tuple[str, ...] = ()
    achievements_file: Path | None = None
    seed: int | None = None
    extra_courses: int = 2
    duplicate_rate: float = 0.05
    malformed_rate: float = 0.02
    within_s: float = 120.0
    settle_s: float = 3.0
    formats: tuple[str, ...] = ()
    """Formats to mix (deploy/cli/formats.py FORMATS); empty: all four when an LMS is configured
    for the issuer, else credstream's own contract only."""
    lms_config: Path | None = None
    """The LMS configuration to read (default: deploy/config/lms.json, as the local stack uses)."""
    lms_source: str | None = None
    """The `ce_source` of the LMS to simulate (default: the configuration's LMS of the issuer)."""


def lms_target(options: SimulationOptions) -> LmsTarget | None:
    """The LMS the foreign formats are sent as, from the LMS configuration or `lms_source`."""
    path = options.lms_config or DEFAULT_LMS_CONFIG
    config: Any = {}
    if options.lms_config is not None or path.exists():
        try:
            config = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise UsageError(f"{path}: {error}") from error
    if options.lms_source:
        for entry in config.get("lms", []) if isinstance(config, dict) else []:
            if entry.get("source") == options.lms_source:
                config = {"lms": [entry]}
                break
        else:  # not in the file: an LMS without identity mappings
            config = {"lms": [{"lms_id": options.lms_source, "source": options.lms_source,
                               "issuer_id": options.issuer_id}]}  # fmt: skip
    try:
        return LmsTarget.for_issuer(config, options.issuer_id)
    except (KeyError, ValueError) as error:
        raise UsageError(f"LMS configuration {path}: {error}") from error


def lms_principal(options: SimulationOptions) -> str:
    """The Kafka principal the run is published as: the simulated LMS's own. An LMS that has no
    principal of its own (an ad-hoc --lms-source, or no LMS for the issuer) is published as the
    first configured LMS's: every LMS may write the same results topics, no other topic."""
    from deploy.tools.kafka_security import load

    security = load()
    lms = lms_target(options)
    own = [p for p in security.of_kind("lms") if lms is not None and p.lms_id == lms.lms_id]
    principals = own or security.of_kind("lms")
    if not principals:
        raise UsageError("deploy/config/kafka-security.json has no LMS principal to publish as")
    return principals[0].name


def result_encoders(options: SimulationOptions) -> list[ResultEncoder]:
    lms = lms_target(options)
    formats = options.formats or (FORMATS if lms is not None else ("credstream",))
    try:
        return encoders(formats, lms)
    except ValueError as error:
        raise UsageError(str(error)) from error


async def load_rules(endpoints: Endpoints, options: SimulationOptions) -> list[AchievementRule]:
    """The criteria of the issuer's active achievements, from the seed file or the admin API."""
    if options.achievements_file is not None:
        try:
            data = json.loads(options.achievements_file.read_text())
        except (OSError, ValueError) as error:
            raise UsageError(f"{options.achievements_file}: {error}") from error
        definitions = data.get("achievements", []) if isinstance(data, dict) else data
    else:
        definitions = await list_achievements(endpoints, options.issuer_id)
    rules = [
        AchievementRule.from_definition(d)
        for d in definitions
        if d["issuer_id"] == options.issuer_id
        and d.get("status", "active") == "active"
        and (not options.achievement_ids or d["achievement_id"] in options.achievement_ids)
    ]
    if not rules:
        raise OperationFailed(f"issuer {options.issuer_id} has no active achievements to simulate")
    return rules


def make_plan(rules: list[AchievementRule], options: SimulationOptions) -> Plan:
    return plan(
        rules,
        learners=options.learners,
        run_id=uuid.uuid4().hex[:8],
        seed=options.seed,
        extra_courses=options.extra_courses,
        duplicate_rate=options.duplicate_rate,
        malformed_rate=options.malformed_rate,
        encoders=result_encoders(options),
    )


async def run_plan(
    endpoints: Endpoints,
    simulation: Plan,
    options: SimulationOptions,
    *,
    sent: Progress | None = None,
    processed: Progress | None = None,
) -> Observed:
    """Publish the run and wait until the platform has processed it (see `RunObserver`)."""
    observer = await RunObserver(endpoints.operator_kafka(), simulation).start()
    try:
        await publish_plan(simulation, endpoints.kafka_as(lms_principal(options)), progress=sent)
        return await observer.until_settled(
            simulation, within_s=options.within_s, settle_s=options.settle_s, progress=processed
        )
    finally:
        await observer.stop()


def comparison(simulation: Plan, observed: Observed) -> dict[str, Any]:
    return {
        **simulation.summary(),
        "observed_earned": observed.earned_events,
        "observed_distinct_earned": len(observed.earned),
        "observed_dlq": observed.dlq,
        "dlq_reasons": observed.dlq_reasons,
        "match": observed.earned == simulation.expected_earned
        and observed.earned_events == len(simulation.expected_earned)
        and observed.dlq == simulation.expected_dlq,
    }


async def seed_demo(endpoints: Endpoints) -> dict[str, int]:
    """Seed the issuer, achievements and QA agency as `deploy/local/up` does; both steps are
    idempotent (unchanged definitions keep their revision; a current attestation is not re-sent)."""
    from deploy.tools.seed import DEFAULT_FILE, DEFAULT_QA_FILE, seed, seed_qa

    try:
        issuers, achievements = await seed(
            endpoints.issuance_url, DEFAULT_FILE, token=endpoints.issuance_token
        )
        from deploy.tools.kafka_security import load

        security = load()
        agencies, attestations = await seed_qa(
            endpoints.qa_url,
            lambda agency: endpoints.kafka_as(security.qa_agency(agency).name),
            DEFAULT_QA_FILE,
            token=endpoints.qa_token,
        )
    except SystemExit as error:  # the seed tool's own failure message
        raise OperationFailed(f"seeding failed: {error}") from error
    return {
        "issuers": issuers,
        "achievements": achievements,
        "agencies": agencies,
        "attestations": attestations,
    }


async def issued_for(
    endpoints: Endpoints, simulation: Plan, issuer_id: str, *, expected: int, within_s: float
) -> list[dict[str, Any]]:
    """The issuance requests of the run's learners, once `expected` of them are issued."""
    learners = set(simulation.learners)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    async with service(endpoints, "issuance") as client:
        while True:
            rows = checked(await client.get(f"/admin/issuers/{issuer_id}/requests"), "issuance requests")
            ours = [r for r in rows if r["learner_id"] in learners]
            if sum(r["state"] == "issued" for r in ours) >= expected or loop.time() > deadline:
                return ours
            await asyncio.sleep(0.5)


async def demo_links(endpoints: Endpoints, issuer_id: str, credential_uuid: str | None) -> dict[str, Any]:
    links: dict[str, Any] = {
        "verify": f"POST {endpoints.issuance_url}/credentials/verify",
        "did_document": f"{endpoints.issuance_url}/issuers/{issuer_id}/did.json",
        "qa_register": f"{endpoints.qa_url}/register/issuers/{issuer_id}",
        "qa_register_html": f"{endpoints.qa_url}/register",
    }
    if credential_uuid:
        links["credential"] = f"{endpoints.issuance_url}/credentials/{credential_uuid}"
        links["verify_example"] = f"credstream verify {endpoints.issuance_url}/credentials/{credential_uuid}"
        async with service(endpoints, "issuance") as client:
            document = checked(await client.get(f"/credentials/{credential_uuid}"), "reading a credential")
        entries = document.get("credentialStatus") or []
        entries = entries if isinstance(entries, list) else [entries]
        links["status_lists"] = sorted({e["statusListCredential"] for e in entries if isinstance(e, dict)})
    return links
