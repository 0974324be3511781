"""The QA service on the real broker and database: the agency example's attestation accepted,
invalid submissions dead-lettered with their reason (and audited) while a valid one behind them
is processed, renewal, withdrawal and expiry detected by the service itself, the public register."""

from __future__ import annotations

import asyncio
import copy
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts.topics import QA_ATTESTATIONS, QA_SUBMISSIONS, dead_letter_topic
from deploy.local.runner import ROOT, Stack
from deploy.tools.agency_attest import endorsement, submit
from services.runtime.process import ServiceHost
from tests.fixtures.kafka import QA_AGENCY_PRINCIPAL, Seen, password_of
from tests.fixtures.qa import QA_ADMIN, AgencyScenario, define_subject, issuer_subject, qa_url

pytestmark = pytest.mark.integration


def about(attestation_id: str, event_type: str | None = None) -> Any:
    def match(record: Seen) -> bool:
        body = record.json()
        return bool(
            body.get("attestation_id") == attestation_id
            and (event_type is None or record.headers["ce_type"].decode() == event_type)
        )

    return match


async def test_the_agency_example_publishes_an_attestation_the_service_accepts(
    stack: Stack, qa: ServiceHost, producer: AIOKafkaProducer, watch: Any
) -> None:
    facts = await watch(QA_ATTESTATIONS.name)
    agency = AgencyScenario(jurisdictions=["FI"])
    await agency.register(qa_url(stack))
    issuer_id, achievement_id = f"uni-{uuid.uuid4().hex[:8]}", f"mc-{uuid.uuid4().hex[:8]}"
    await define_subject(producer, stack, issuer_id=issuer_id, achievement_id=achievement_id)
    signed = agency.endorse(issuer_subject(issuer_id), scopeEqfLevel=[5, 6])

    attestation_id = await submit(stack.kafka(QA_AGENCY_PRINCIPAL), agency.agency_id, signed)

    [record] = await facts.wait_for(about(attestation_id), timeout=30, settle=1.0)
    granted = record.json()
    assert record.headers["ce_type"] == b"credstream.qa.attestation.granted"
    assert record.key == attestation_id.encode()
    assert granted["subject"] == {"kind": "issuer", "id": issuer_id}
    assert granted["agency_did"] == agency.did
    assert granted["scope"] == {"eqf_levels": [5, 6], "jurisdictions": ["FI"]}
    assert granted["endorsement"] == signed
    async with httpx.AsyncClient(base_url=qa_url(stack), timeout=30) as client:
        current = (await client.get("/register/attestations", params={"issuer_id": issuer_id})).json()
        assert [a["attestation_id"] for a in current] == [attestation_id]
        assert current[0]["report_url"] == "https://www.eqar.eu/qa-results/report/1234"
        listed = (await client.get(f"/register/agencies/{agency.agency_id}")).json()
        assert listed["did"] == agency.did and listed["attestations"][0]["status"] == "active"
        assert issuer_id in (await client.get("/register")).text
        programme = (await client.get(f"/register/achievements/{achievement_id}")).json()
        assert [a["attestation_id"] for a in programme["attestations"]] == [attestation_id]
        # Agencies cannot register themselves: the admin API needs the operator's token.
        refused = await client.put(f"/admin/agencies/{agency.agency_id}", json=agency.registration())
        assert refused.status_code == 401

    # The command line of the example, as docs/qa.md shows it, for programme-level QA.
    env = {
        **os.environ,
        "AGENCY_SECRET_KEY": agency.secret_key,
        "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
        "KAFKA_USERNAME": QA_AGENCY_PRINCIPAL,
        "KAFKA_PASSWORD": password_of(stack.kafka(QA_AGENCY_PRINCIPAL)),
    }
    subject = f"urn:credstream:achievement:{achievement_id}"
    command = [sys.executable, "-m", "deploy.tools.agency_attest", agency.agency_id, subject,
               "standard=ESG 2015", "scopeJurisdiction=FI"]  # fmt: skip
    done = await asyncio.to_thread(
        subprocess.run, command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    cli_attestation = done.stdout.split()[-1]
    [record] = await facts.wait_for(about(cli_attestation), timeout=30)
    assert record.json()["subject"] == {"kind": "achievement", "id": achievement_id}


async def test_invalid_submissions_are_dead_lettered_with_their_reason_and_a_valid_one_behind_them_is_applied(
    stack: Stack, qa: ServiceHost, producer: AIOKafkaProducer, watch: Any
) -> None:
    dead = await watch(dead_letter_topic("qa"))
    facts = await watch(QA_ATTESTATIONS.name)
    agency, impostor = AgencyScenario(jurisdictions=["EE"]), AgencyScenario()
    await agency.register(qa_url(stack))
    issuer_id = f"uni-{uuid.uuid4().hex[:8]}"
    await define_subject(producer, stack, issuer_id=issuer_id, achievement_id=f"mc-{issuer_id}")
    subject = issuer_subject(issuer_id)

    forged = agency.endorse(subject)
    forged["credentialSubject"]["qualityAssurance"]["decision"] = "positive_with_conditions"  # after signing
    # Signed with a key the register does not hold: its did:key is not the agency's DID.
    wrong_key = agency.endorse(subject, secret_key=impostor.secret_key)
    unknown = impostor.endorse(subject)
    outside = agency.endorse(subject, scopeJurisdiction=["EE", "LV"])
    nobody = agency.endorse(issuer_subject(f"nobody-{issuer_id}"))  # an issuer issuance never defined
    valid = agency.endorse(subject)
    sent = [
        await agency.submit(producer, forged),
        await agency.submit(producer, wrong_key),
        await impostor.submit(producer, unknown),  # an agency nobody registered
        await agency.submit(producer, outside),
        await agency.submit(producer, nobody, key=subject),  # same key: same partition, in order
    ]
    # A malformed record on the same key (same partition), ahead of the valid one.
    malformed = b'{"agency_id": "x", "action": "grant"'
    await producer.send_and_wait(
        QA_SUBMISSIONS.name, value=malformed, key=subject.encode(),
        headers=[("ce_specversion", b"1.0"), ("ce_id", b"bad-1"), ("ce_source", b"urn:test:qa-agency"),
                 ("ce_type", b"credstream.qa.attestation.submitted"), ("content-type", b"application/json")],
    )  # fmt: skip
    await agency.submit(producer, valid)

    [granted] = await facts.wait_for(about(valid["id"]), timeout=30)
    assert granted.headers["ce_type"] == b"credstream.qa.attestation.granted"
    rejected = await dead.wait_for(lambda r: r.key == subject.encode(), count=6, timeout=30, settle=1.0)
    reasons = [r.headers["dlq.reason"].decode() for r in rejected]
    assert reasons == [
        "signature_invalid",
        "agency_mismatch",
        "agency_unknown",
        "out_of_remit",
        "subject_unknown",
        "malformed_json",
    ]
    assert rejected[-1].value == malformed, "the original bytes are kept"
    assert "LV" in rejected[3].headers["dlq.error_message"].decode()
    async with httpx.AsyncClient(base_url=qa_url(stack), headers=QA_ADMIN, timeout=30) as client:
        audit = (await client.get("/admin/submissions", params={"outcome": "rejected"})).json()
    audited = {row["event_id"]: row["reason"] for row in audit}
    assert [audited.get(event_id) for event_id in sent] == reasons[:5]


async def test_renewal_withdrawal_and_expiry_are_announced_in_order_and_kept_in_the_history(
    stack: Stack, qa: ServiceHost, producer: AIOKafkaProducer, watch: Any
) -> None:
    facts = await watch(QA_ATTESTATIONS.name)
    agency = AgencyScenario()
    await agency.register(qa_url(stack))
    issuer_id = f"uni-{uuid.uuid4().hex[:8]}"
    await define_subject(producer, stack, issuer_id=issuer_id, achievement_id=f"mc-{issuer_id}")
    subject = issuer_subject(issuer_id)
    soon = datetime.now(UTC) + timedelta(seconds=4)

    short = agency.endorse(subject, valid_until=soon)
    await agency.submit(producer, short)
    # Nobody sends anything more about `short`: the service itself notices that it ended.
    [expired] = await facts.wait_for(
        about(short["id"], "credstream.qa.attestation.expired"), timeout=30, settle=0.5
    )
    assert datetime.fromisoformat(expired.json()["occurred_at"]) >= soon.replace(microsecond=0)

    main = agency.endorse(subject)
    await agency.submit(producer, main)
    later = datetime.now(UTC) + timedelta(days=800)
    renewal = agency.endorse(subject, attestationAction="renew", attestation=main["id"], valid_until=later)
    await agency.submit(producer, renewal)
    withdrawal = agency.endorse(subject, attestationAction="withdraw", attestation=main["id"])
    await agency.submit(producer, withdrawal)
    # Renewing what was withdrawn is refused (and leaves the state alone).
    await agency.submit(producer, copy.deepcopy(agency.endorse(subject, attestationAction="renew",
                                                               attestation=main["id"])))  # fmt: skip

    records = await facts.wait_for(about(main["id"]), count=3, timeout=30, settle=1.0)
    assert [r.headers["ce_type"].decode().rsplit(".", 1)[-1] for r in records] == [
        "granted",
        "renewed",
        "withdrawn",
    ]
    assert records[1].json()["valid_until"].startswith(later.strftime("%Y-%m-%dT%H:%M:%S"))
    async with httpx.AsyncClient(base_url=qa_url(stack), timeout=30) as client:
        detail = (await client.get(f"/register/attestations/{main['id']}")).json()
        current = (
            await client.get("/register/attestations", params={"issuer_id": subject.rsplit(":", 1)[-1]})
        ).json()
        everything = (
            await client.get(
                "/register/attestations", params={"issuer_id": subject.rsplit(":", 1)[-1], "include": "all"}
            )
        ).json()
    assert detail["status"] == "withdrawn"
    assert [h["action"] for h in detail["history"]] == ["granted", "renewed", "withdrawn"]
    assert detail["endorsement"] == renewal
    assert [h["endorsement"] for h in detail["history"]] == [main, renewal, withdrawal]
    assert records[2].json()["endorsement"] == withdrawal, "the withdrawn fact carries its signed cause"
    assert current == []
    assert {a["status"] for a in everything} == {"withdrawn", "expired"}


async def test_an_agency_can_always_withdraw_what_it_granted_and_no_one_else_can(
    stack: Stack, qa: ServiceHost, producer: AIOKafkaProducer, watch: Any
) -> None:
    """A withdrawal is checked for whose it is, never for its scope or the agency's remit: an
    agency limited by jurisdiction withdraws without restating it, with a scope outside its remit,
    and after the operator narrowed its remit and suspended it. Another agency cannot."""
    dead = await watch(dead_letter_topic("qa"))
    facts = await watch(QA_ATTESTATIONS.name)
    agency, other = AgencyScenario(jurisdictions=["FI"]), AgencyScenario(jurisdictions=["FI"])
    await agency.register(qa_url(stack))
    await other.register(qa_url(stack))
    issuer_id = f"uni-{uuid.uuid4().hex[:8]}"
    await define_subject(producer, stack, issuer_id=issuer_id, achievement_id=f"mc-{issuer_id}")
    subject = issuer_subject(issuer_id)
    grants = [agency.endorse(subject) for _ in range(3)]
    for granted in grants:
        await agency.submit(producer, granted)
    for granted in grants:
        await facts.wait_for(about(granted["id"], "credstream.qa.attestation.granted"), timeout=30)

    def withdrawal(of: dict[str, Any], by: AgencyScenario, **scope: Any) -> dict[str, Any]:
        # Built with the reference agency's own signer: no scope unless one is given.
        return endorsement(by.secret_key, subject, attestationAction="withdraw", attestation=of["id"],
                           standard="ESG 2015", **scope)  # fmt: skip

    # Another agency, however well formed its withdrawal, cannot pull this agency's assurance.
    await other.submit(producer, withdrawal(grants[0], other, scopeJurisdiction=["FI"]))
    [refused] = await dead.wait_for(lambda r: r.key == subject.encode(), timeout=30)
    assert refused.headers["dlq.reason"] == b"attestation_unknown"

    await agency.submit(producer, withdrawal(grants[0], agency))  # no scope at all
    await agency.submit(producer, withdrawal(grants[1], agency, scopeJurisdiction=["SE"]))
    async with httpx.AsyncClient(base_url=qa_url(stack), headers=QA_ADMIN, timeout=30) as client:
        narrowed = {**agency.registration(), "remit": {"jurisdictions": ["EE"]}, "status": "suspended"}
        (await client.put(f"/admin/agencies/{agency.agency_id}", json=narrowed)).raise_for_status()
    await agency.submit(producer, withdrawal(grants[2], agency))

    for granted in grants:
        [withdrawn] = await facts.wait_for(
            about(granted["id"], "credstream.qa.attestation.withdrawn"), timeout=30
        )
        assert withdrawn.json()["scope"] == {"jurisdictions": ["FI"]}, "the attestation keeps its scope"
    # The suspended agency still cannot grant.
    await agency.submit(producer, agency.endorse(subject, scopeJurisdiction=["EE"]))
    rejected = await dead.wait_for(lambda r: r.key == subject.encode(), count=2, timeout=30, settle=1.0)
    assert [r.headers["dlq.reason"] for r in rejected] == [b"attestation_unknown", b"agency_suspended"]
    async with httpx.AsyncClient(base_url=qa_url(stack), timeout=30) as client:
        current = (await client.get("/register/attestations", params={"issuer_id": issuer_id})).json()
    assert current == []


async def test_a_renewal_keeps_or_narrows_the_scope_and_may_not_widen_it(
    stack: Stack, qa: ServiceHost, producer: AIOKafkaProducer, watch: Any
) -> None:
    dead = await watch(dead_letter_topic("qa"))
    facts = await watch(QA_ATTESTATIONS.name)
    agency = AgencyScenario(jurisdictions=["FI", "EE"])
    await agency.register(qa_url(stack))
    issuer_id = f"uni-{uuid.uuid4().hex[:8]}"
    await define_subject(producer, stack, issuer_id=issuer_id, achievement_id=f"mc-{issuer_id}")
    subject = issuer_subject(issuer_id)
    granted = agency.endorse(subject, scopeJurisdiction=["FI"], scopeEqfLevel=[5, 6])
    await agency.submit(producer, granted)

    def renewal(**scope: Any) -> dict[str, Any]:
        return agency.endorse(subject, attestationAction="renew", attestation=granted["id"], **scope)

    # Inside the remit (EE is), but wider than the attestation it renews: refused.
    await agency.submit(producer, renewal(scopeJurisdiction=["FI", "EE"], scopeEqfLevel=[5, 6]))
    await agency.submit(producer, renewal(scopeJurisdiction=["FI"]))  # drops the EQF limit
    await agency.submit(producer, renewal(scopeJurisdiction=["FI"], scopeEqfLevel=[6], scopeField=["0610"]))

    rejected = await dead.wait_for(lambda r: r.key == subject.encode(), count=2, timeout=30, settle=1.0)
    assert [r.headers["dlq.reason"] for r in rejected] == [b"scope_widened", b"scope_widened"]
    assert b"EE" in rejected[0].headers["dlq.error_message"]
    assert b"EQF level" in rejected[1].headers["dlq.error_message"]
    records = await facts.wait_for(about(granted["id"]), count=2, timeout=30, settle=1.0)
    assert [r.headers["ce_type"] for r in records] == [
        b"credstream.qa.attestation.granted",
        b"credstream.qa.attestation.renewed",
    ]
    assert records[1].json()["scope"] == {"eqf_levels": [6], "fields": ["0610"], "jurisdictions": ["FI"]}
