"""The `credstream` CLI as an operator runs it, against the real test stack (Kafka, PostgreSQL)
with the four services running in this process; each command runs as its own process."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.envelope import CE_ID, CE_SOURCE
from contracts.topics import ACHIEVEMENTS_EARNED, dead_letter_topic
from deploy.local.runner import Stack
from deploy.tools.seed import DEFAULT_QA_FILE
from services.runtime.process import ServiceHost
from tests.fixtures.cli import credstream
from tests.fixtures.issuance import ADMIN, IssuerScenario, indexes_ready
from tests.fixtures.kafka import TopicWatcher
from tests.fixtures.qa import qa_knows
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform(
    assessment: ServiceHost, issuance: ServiceHost, revocation: ServiceHost, qa: ServiceHost
) -> None:
    """Every service of the flow, running for the whole module."""


def _url(stack: Stack, service: str) -> str:
    return f"http://127.0.0.1:{stack.ports[service]}"


async def _issuer(stack: Stack, scenario: IssuerScenario) -> None:
    async with httpx.AsyncClient(base_url=_url(stack, "issuance"), headers=ADMIN, timeout=30) as client:
        response = await client.put(f"/admin/issuers/{scenario.issuer_id}", json=scenario.issuer())
        response.raise_for_status()
        await indexes_ready(client, scenario.issuer_id)


@pytest.fixture
async def defined(stack: Stack, platform: None) -> IssuerScenario:
    scenario = IssuerScenario()
    await scenario.define(_url(stack, "issuance"))
    return scenario


async def test_achievements_create_list_show(stack: Stack, platform: None, tmp_path: Path) -> None:
    scenario = IssuerScenario()
    await _issuer(stack, scenario)
    definition = tmp_path / "achievement.json"
    definition.write_text(json.dumps(scenario.achievement()))

    created = await credstream(stack, "--json", "achievements", "create", str(definition))
    assert created.exit_code == 0, created.stderr
    assert created.json() == [
        {"achievement_id": scenario.achievement_id, "revision": 1, "released_credentials": []}
    ]

    listed = await credstream(stack, "--json", "achievements", "list", "--issuer", scenario.issuer_id)
    assert [a["achievement_id"] for a in listed.json()] == [scenario.achievement_id]
    table = await credstream(stack, "achievements", "list", "--issuer", scenario.issuer_id)
    assert scenario.achievement_id in table.stdout and "score >= 0.6" in table.stdout

    shown = await credstream(stack, "--json", "achievements", "show", scenario.achievement_id)
    assert shown.exit_code == 0
    assert shown.json()["criteria"]["required_activity_ids"] == list(scenario.activities)

    missing = await credstream(stack, "achievements", "show", f"nothing-{uuid.uuid4().hex[:6]}")
    assert missing.exit_code == 1 and "no achievement" in missing.stderr
    definition.write_text("{not json")
    unreadable = await credstream(stack, "achievements", "create", str(definition))
    assert unreadable.exit_code == 2


async def test_issue_one_then_a_csv_batch_whose_bad_row_is_reported(
    stack: Stack, defined: IssuerScenario, tmp_path: Path
) -> None:
    one = await credstream(
        stack, "--json", "issue", "--issuer", defined.issuer_id, "--achievement", defined.achievement_id,
        "--learner", "cli-learner-1", "--email", "cli-learner-1@learners.test",
    )  # fmt: skip
    assert one.exit_code == 0, one.stderr
    [row] = one.json()["rows"]
    assert row["outcome"] == "issued"
    async with httpx.AsyncClient(base_url=_url(stack, "issuance"), headers=ADMIN, timeout=30) as client:
        stored = await client.get(f"/credentials/{row['credential_id']}")
    assert stored.status_code == 200
    assert stored.json()["credentialSubject"]["achievement"]["name"] == "Applied Data Protection"

    batch = tmp_path / "awards.csv"
    batch.write_text(
        "issuer_id,achievement_id,learner_id,email\n"
        f"{defined.issuer_id},{defined.achievement_id},cli-learner-2,two@learners.test\n"
        f"{defined.issuer_id},no-such-achievement,cli-learner-3,\n"
        f"{defined.issuer_id},{defined.achievement_id},cli-learner-4,\n"
    )
    result = await credstream(stack, "--json", "issue", "--csv", str(batch))
    assert result.exit_code == 1, result.stderr
    body = result.json()
    assert body["summary"] == {"issued": 2, "invalid": 1}
    [bad] = [r for r in body["rows"] if r["outcome"] != "issued"]
    assert bad["line"] == 3 and "no achievement no-such-achievement" in bad["detail"]

    # The human summary names the failure too; re-running issues nothing new (same earned ids).
    again = await credstream(stack, "issue", "--csv", str(batch))
    assert again.exit_code == 1
    assert "invalid 1, issued 2" in again.stdout and "no-such-achievement" in again.stdout


async def test_status_changes_are_reported_by_verify(
    stack: Stack, defined: IssuerScenario, tmp_path: Path
) -> None:
    issued = await credstream(
        stack, "--json", "issue", "--issuer", defined.issuer_id, "--achievement", defined.achievement_id,
        "--learner", "cli-status-1",
    )  # fmt: skip
    credential_id = issued.json()["rows"][0]["credential_id"]
    url = f"{_url(stack, 'issuance')}/credentials/{credential_id.removeprefix('urn:uuid:')}"
    async with httpx.AsyncClient(headers=ADMIN, timeout=30) as client:
        document = (await client.get(url)).json()
    file = tmp_path / "vc.json"
    file.write_text(json.dumps(document))

    fresh = await credstream(stack, "--json", "verify", str(file))
    assert fresh.exit_code == 0, fresh.stdout + fresh.stderr
    assert fresh.json()["status"] == {"revocation": "valid", "suspension": "valid"}
    assert fresh.json()["qualityAssurance"]["state"] == "none"  # allow_unassured issuer
    human = await credstream(stack, "verify", url)
    assert human.exit_code == 0 and "verified" in human.stdout and "status suspension" in human.stdout

    async def verify_reports(expected: dict[str, str], exit_code: int) -> None:
        async def check() -> bool:
            run = await credstream(stack, "--json", "verify", str(file))
            return run.exit_code == exit_code and run.json()["status"] == expected

        await eventually(check, timeout=30, what=f"verify reports {expected}")

    suspended = await credstream(stack, "suspend", credential_id, "--reason-code", "investigation")
    assert suspended.exit_code == 0, suspended.stderr
    assert "suspension -> suspended (applied)" in suspended.stdout
    await verify_reports({"revocation": "valid", "suspension": "suspended"}, 1)

    lifted = await credstream(stack, "unsuspend", credential_id)
    assert lifted.exit_code == 0
    await verify_reports({"revocation": "valid", "suspension": "valid"}, 0)

    revoked = await credstream(stack, "--json", "revoke", credential_id, "--reason", "issued in error")
    assert revoked.exit_code == 0
    assert revoked.json()["results"][0]["statusPurpose"] == "revocation"
    await verify_reports({"revocation": "revoked", "suspension": "valid"}, 1)
    final = await credstream(stack, "unsuspend", credential_id)
    assert final.exit_code == 0  # lifting a suspension that is not set is no error
    refused = await credstream(stack, "--json", "suspend", "urn:uuid:" + str(uuid.uuid4()))
    assert refused.exit_code == 1 and "HTTP 404" in refused.json()["error"]


async def test_tail_prints_events_with_their_cloudevents_attributes(
    stack: Stack, defined: IssuerScenario
) -> None:
    issued = await credstream(
        stack, "--json", "issue", "--issuer", defined.issuer_id, "--achievement", defined.achievement_id,
        "--learner", "cli-tail-1",
    )  # fmt: skip
    assert issued.json()["rows"][0]["outcome"] == "issued"
    earned_id = _earned_id(defined, "cli-tail-1")

    lines = await credstream(stack, "--json", "tail", "achievement.earned", "--from-beginning", "--idle", "3")
    assert lines.exit_code == 0, lines.stderr
    records = [json.loads(line) for line in lines.stdout.splitlines()]
    [ours] = [r for r in records if r["headers"].get(CE_ID) == earned_id]
    assert ours["topic"] == ACHIEVEMENTS_EARNED.name
    assert ours["headers"][CE_SOURCE] == "urn:credstream:cli"
    assert ours["headers"]["ce_type"] == "credstream.achievement.earned"
    assert ours["headers"]["ce_specversion"] == "1.0"
    assert ours["data"]["learner"]["id"] == "cli-tail-1"

    pretty = await credstream(stack, "tail", ACHIEVEMENTS_EARNED.name, "--from-beginning", "--idle", "3")
    assert earned_id in pretty.stdout
    assert "ce_source" in pretty.stdout and '"achievement_id"' in pretty.stdout
    limited = await credstream(
        stack, "--json", "tail", "achievement.earned", "--from-beginning", "--max", "1"
    )
    assert len(limited.stdout.splitlines()) == 1
    unknown = await credstream(stack, "tail", "no.such.topic", "--max", "1")
    assert unknown.exit_code == 2 and "unknown topic" in unknown.stderr


def _earned_id(scenario: IssuerScenario, learner_id: str) -> str:
    from contracts.ids import earned_id

    return earned_id(
        issuer_id=scenario.issuer_id, achievement_id=scenario.achievement_id, learner_id=learner_id
    )


async def test_simulated_stream_ends_with_the_counts_it_generated(stack: Stack, platform: None) -> None:
    """Two achievements (two activities at 60 %, and one needing success); passes, fails,
    re-takes, duplicates and malformed records. Counted here independently of the CLI's own
    observer: achievement.earned for the run's learners and dead letters with its ce_source."""
    scenario = IssuerScenario()
    await scenario.define(_url(stack, "issuance"))
    second: dict[str, Any] = scenario.achievement(
        achievement_id=f"{scenario.achievement_id}-b",
        name="Applied Data Protection: project",
        criteria={
            "required_activity_ids": [f"https://lms.test/{scenario.issuer_id}/project"],
            "require_success": True,
        },
    )
    async with httpx.AsyncClient(base_url=_url(stack, "issuance"), headers=ADMIN, timeout=30) as client:
        (await client.put(f"/admin/achievements/{second['achievement_id']}", json=second)).raise_for_status()
    earned = await TopicWatcher(stack.kafka(), ACHIEVEMENTS_EARNED.name).start()
    dlq = await TopicWatcher(stack.kafka(), dead_letter_topic("assessment")).start()
    try:
        run = await credstream(
            stack, "--json", "simulate", "--issuer", scenario.issuer_id, "--learners", "40", "--seed", "7",
            "--duplicate-rate", "0.1", "--malformed-rate", "0.05", "--within", "120",
        )  # fmt: skip
        assert run.exit_code == 0, run.stdout + run.stderr
        result = run.json()
        assert result["match"] is True
        assert result["expected_earned"] > 0 and result["expected_dlq"] >= 3
        assert result["fails"] > 0 and result["retakes"] > 0 and result["duplicates"] > 0
        assert result["expected_earned"] < 2 * 40  # some learners fail or abandon
        assert result["formats"] == {  # no LMS is configured for this issuer: the contract only
            "credstream": {"learners": 40, "records": result["records"], "malformed": result["expected_dlq"]}
        }

        prefix = f"sim-{result['run_id']}-"
        ours = await earned.wait_for(
            lambda s: s.json()["learner"]["id"].startswith(prefix),
            count=result["expected_earned"],
            timeout=30,
        )
        pairs = {(s.json()["learner"]["id"], s.json()["achievement_id"]) for s in ours}
        assert len(ours) == len(pairs) == result["expected_earned"]
        assert {a for _, a in pairs} == {scenario.achievement_id, second["achievement_id"]}
        dead = await dlq.wait_for(
            lambda s: s.headers.get(CE_SOURCE) == result["source"].encode(), count=result["expected_dlq"]
        )
        assert len(dead) == result["expected_dlq"]
        assert {s.headers["dlq.reason"] for s in dead} >= {b"malformed_json"}
    finally:
        await earned.stop()
        await dlq.stop()
    refused = await credstream(
        stack, "simulate", "--issuer", scenario.issuer_id, "--formats", "credstream,xapi"
    )
    assert refused.exit_code == 2 and "needs an LMS" in refused.stderr


async def test_demo_seeds_simulates_and_links(stack: Stack, platform: None) -> None:
    run = await credstream(stack, "--json", "demo", "--learners", "10", "--seed", "3", timeout=300)
    assert run.exit_code == 0, run.stdout + run.stderr
    summary = run.json()
    assert summary["simulation"]["match"] is True
    assert summary["issued_credentials"] == summary["simulation"]["expected_earned"] > 0
    # deploy/config/lms.json configures an LMS for the demo issuer: all four formats, mixed.
    formats = summary["simulation"]["formats"]
    assert set(formats) == {"credstream", "xapi", "caliper", "lti"}
    assert all(f["learners"] == 10 // 4 + (n < 10 % 4) for n, f in enumerate(formats.values()))
    links = summary["links"]
    assert links["qa_register"].endswith("/register/issuers/open-university")
    assert all("/status-lists/open-university/" in url for url in links["status_lists"])
    async with httpx.AsyncClient(timeout=30) as client:
        assert (await client.get(links["qa_register"])).json()["attestations"]
        for url in links["status_lists"]:
            assert (await client.get(url)).status_code == 200
    verified = await credstream(stack, "--json", "verify", links["credential"])
    assert verified.exit_code == 0, verified.stdout
    assert verified.json()["qualityAssurance"]["state"] == "valid"


async def test_the_qa_life_cycle_runs_from_the_command_line_with_a_backdated_withdrawal(
    stack: Stack, platform: None
) -> None:
    """`qa grant`, `qa renew` and `qa withdraw --effective` as the reference agency (its key from
    the seed file, its own Kafka principal): the credential issued after the withdrawal's effective
    date is suspended by the issuer's `suspend` policy."""
    reference = json.loads(DEFAULT_QA_FILE.read_text())["agencies"][0]  # remit: jurisdiction FI
    scenario = IssuerScenario(qa_policy="require", withdrawal_policy="suspend")
    async with httpx.AsyncClient(base_url=_url(stack, "qa"), headers=ADMIN, timeout=30) as client:
        (await client.put(f"/admin/agencies/{reference['agency_id']}", json=reference)).raise_for_status()
    async with httpx.AsyncClient(base_url=_url(stack, "issuance"), headers=ADMIN, timeout=30) as client:
        finnish = {**scenario.issuer(), "country_code": "FI"}
        (await client.put(f"/admin/issuers/{scenario.issuer_id}", json=finnish)).raise_for_status()
        await indexes_ready(client, scenario.issuer_id)
        put = await client.put(f"/admin/achievements/{scenario.achievement_id}", json=scenario.achievement())
        put.raise_for_status()
    await qa_knows(stack, scenario.achievement_id)
    subject = f"issuer:{scenario.issuer_id}"

    outside = await credstream(stack, "qa", "grant", subject)
    assert outside.exit_code == 1 and "out_of_remit" in outside.stderr, outside.stderr
    granted = await credstream(
        stack, "--json", "qa", "grant", subject, "--jurisdiction", "FI",
        "--report-url", "https://www.eqar.eu/qa-results/",
    )  # fmt: skip
    assert granted.exit_code == 0, granted.stdout + granted.stderr
    assert granted.json()["outcome"] == "accepted"
    attestation_id = granted.json()["attestation_id"]

    issued = await credstream(
        stack, "--json", "issue", "--issuer", scenario.issuer_id, "--achievement", scenario.achievement_id,
        "--learner", "cli-qa-learner",
    )  # fmt: skip
    assert issued.exit_code == 0, issued.stdout + issued.stderr
    credential_id = issued.json()["rows"][0]["credential_id"]

    renewed = await credstream(stack, "qa", "renew", attestation_id, "--valid-until", "2031-06-30T00:00:00Z")
    assert renewed.exit_code == 0 and f"renewed {attestation_id} (accepted)" in renewed.stdout, renewed.stderr
    effective = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    withdrawn = await credstream(
        stack, "qa", "withdraw", attestation_id, "--effective", effective.isoformat()
    )
    assert withdrawn.exit_code == 0, withdrawn.stderr
    async with httpx.AsyncClient(base_url=_url(stack, "qa"), timeout=30) as client:
        shown = (await client.get(f"/register/attestations/{attestation_id}")).json()
    assert [h["action"] for h in shown["history"]] == ["granted", "renewed", "withdrawn"]
    assert shown["valid_until"].startswith("2031-06-30")
    assert datetime.fromisoformat(shown["withdrawn_at"]) == effective

    async with httpx.AsyncClient(base_url=_url(stack, "revocation"), headers=ADMIN, timeout=30) as client:

        async def suspended() -> bool:
            response = await client.get(f"/credentials/status/{credential_id}")
            return response.status_code == 200 and response.json()["status"]["suspension"]["set"] is True

        await eventually(
            suspended, timeout=30, what="the credential issued after the effective date suspended"
        )

    again = await credstream(stack, "--json", "qa", "withdraw", attestation_id)
    assert again.exit_code == 1 and again.json()["detail"]["reason"] == "attestation_not_active"
    unreadable = await credstream(stack, "qa", "withdraw", attestation_id, "--effective", "last tuesday")
    assert unreadable.exit_code == 2 and "ISO 8601" in unreadable.stderr
