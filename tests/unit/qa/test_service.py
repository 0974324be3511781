"""The QA use cases with in-memory fakes (no database, no broker): what a submission writes and
which facts it enqueues, and what it refuses without writing anything."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.topics import QA_ATTESTATIONS
from contracts.v1.qa import AttestationSubmitted
from deploy.tools.agency_attest import endorsement
from services.qa import service
from services.qa.domain import Agency, QaRejected, Remit
from tests.fixtures.fakes import FakeQaStore, RecordingOutbox
from vc import keys, multibase

ISSUER = "urn:credstream:issuer:uni-1"


class Agent:
    """An agency with its own key, registered in `store` with a remit limited to FI."""

    def __init__(self, store: FakeQaStore, agency_id: str, *, seed: int) -> None:
        self.seed = bytes([seed]) * 32
        self.secret = multibase.encode_secret_key(self.seed)
        public = multibase.encode_public_key(keys.public_key_of(self.seed))
        self.agency = Agency(
            agency_id=agency_id, did=f"did:key:{public}", name=agency_id, country_code="FI",
            standards=["ESG 2015"], public_keys=[public], remit=Remit(jurisdictions=["FI"]),
        )  # fmt: skip
        store.agencies[agency_id] = self.agency

    def sign(self, **qa: Any) -> dict[str, Any]:
        qa.setdefault("standard", "ESG 2015")
        return endorsement(self.secret, ISSUER, **qa)

    def submission(self, signed: dict[str, Any]) -> AttestationSubmitted:
        qa = signed["credentialSubject"]["qualityAssurance"]
        return AttestationSubmitted(
            agency_id=self.agency.agency_id, action=qa["attestationAction"], endorsement=signed,
            attestation_id=qa.get("attestation"),
        )  # fmt: skip


@pytest.fixture
def store() -> FakeQaStore:
    known = FakeQaStore()
    known.achievements["mc-1"] = {"achievement_id": "mc-1", "issuer_id": "uni-1", "revision": 1,
                                  "name": "MC", "status": "active"}  # fmt: skip
    return known


def submit(store: FakeQaStore, agent: Agent, signed: dict[str, Any], outbox: RecordingOutbox) -> str:
    return asyncio.run(service.accept_submission(agent.submission(signed), repo=store, outbox=outbox))


def refused(store: FakeQaStore, agent: Agent, signed: dict[str, Any]) -> QaRejected:
    outbox = RecordingOutbox()
    before = (dict(store.attestations), list(store.history))
    with pytest.raises(QaRejected) as caught:
        submit(store, agent, signed, outbox)
    assert (dict(store.attestations), list(store.history)) == before, "a refusal writes nothing"
    assert outbox.events == [], "a refusal enqueues nothing"
    return caught.value


def test_a_grant_is_stored_with_its_history_and_announced_once(store: FakeQaStore) -> None:
    agent, outbox = Agent(store, "haka", seed=1), RecordingOutbox()
    signed = agent.sign(scopeJurisdiction=["FI"])
    attestation_id = submit(store, agent, signed, outbox)
    assert attestation_id == signed["id"] and store.attestations[attestation_id].status == "active"
    assert store.history == [(attestation_id, "granted", signed["id"])]
    [granted] = outbox.of(QA_ATTESTATIONS)
    assert (
        granted.event_type == "credstream.qa.attestation.granted" and granted.agency_did == agent.agency.did
    )
    # The same endorsement again (another event id on the wire) is applied once.
    again = RecordingOutbox()
    assert submit(store, agent, signed, again) == attestation_id
    assert again.events == [] and len(store.history) == 1


def test_a_grant_outside_the_remit_or_for_an_unknown_subject_is_refused(store: FakeQaStore) -> None:
    agent = Agent(store, "haka", seed=1)
    assert refused(store, agent, agent.sign()).reason == "out_of_remit"
    assert refused(store, agent, agent.sign(scopeJurisdiction=["SE"])).reason == "out_of_remit"
    store.achievements.clear()
    assert refused(store, agent, agent.sign(scopeJurisdiction=["FI"])).reason == "subject_unknown"


def test_the_granting_agency_withdraws_whatever_scope_it_states_even_when_suspended(
    store: FakeQaStore,
) -> None:
    agent, other = Agent(store, "haka", seed=1), Agent(store, "other", seed=2)
    granted = [agent.sign(scopeJurisdiction=["FI"]) for _ in range(2)]
    for signed in granted:
        submit(store, agent, signed, RecordingOutbox())
    withdraw = {"attestationAction": "withdraw"}

    foreign = other.sign(attestation=granted[0]["id"], scopeJurisdiction=["FI"], **withdraw)
    assert refused(store, other, foreign).reason == "attestation_unknown"

    outbox = RecordingOutbox()
    submit(store, agent, agent.sign(attestation=granted[0]["id"], **withdraw), outbox)  # no scope
    store.agencies["haka"] = agent.agency.model_copy(update={"status": "suspended"})
    submit(
        store, agent, agent.sign(attestation=granted[1]["id"], scopeJurisdiction=["SE"], **withdraw), outbox
    )
    assert [a.status for a in store.attestations.values()] == ["withdrawn", "withdrawn"]
    facts = outbox.of(QA_ATTESTATIONS)
    assert [f.event_type.rsplit(".", 1)[-1] for f in facts] == ["withdrawn", "withdrawn"]
    assert all(f.scope.jurisdictions == ["FI"] for f in facts), "the attestation keeps its scope"
    assert refused(store, agent, agent.sign(scopeJurisdiction=["FI"])).reason == "agency_suspended"


def test_a_renewal_may_narrow_but_not_widen_the_scope(store: FakeQaStore) -> None:
    agent = Agent(store, "haka", seed=1)
    store.agencies["haka"] = agent.agency.model_copy(update={"remit": Remit(jurisdictions=["FI", "EE"])})
    signed = agent.sign(scopeJurisdiction=["FI"], scopeEqfLevel=[5, 6])
    submit(store, agent, signed, RecordingOutbox())
    renew = {"attestationAction": "renew", "attestation": signed["id"]}
    wider = agent.sign(scopeJurisdiction=["FI", "EE"], scopeEqfLevel=[5, 6], **renew)
    assert refused(store, agent, wider).reason == "scope_widened"
    outbox = RecordingOutbox()
    submit(store, agent, agent.sign(scopeJurisdiction=["FI"], scopeEqfLevel=[6], **renew), outbox)
    assert store.attestations[signed["id"]].scope.eqf_levels == [6]
    [renewed] = outbox.of(QA_ATTESTATIONS)
    assert renewed.event_type == "credstream.qa.attestation.renewed"


def test_an_attestation_past_its_end_expires_once(store: FakeQaStore) -> None:
    agent, start = Agent(store, "haka", seed=1), datetime.now(UTC)
    signed = agent.sign(scopeJurisdiction=["FI"], valid_from=start, valid_until=start + timedelta(seconds=5))
    submit(store, agent, signed, RecordingOutbox())
    outbox = RecordingOutbox()
    assert asyncio.run(service.expire_due(repo=store, outbox=outbox, now=start)) == 0
    later = start + timedelta(seconds=6)
    assert asyncio.run(service.expire_due(repo=store, outbox=outbox, now=later)) == 1
    assert asyncio.run(service.expire_due(repo=store, outbox=outbox, now=later)) == 0
    [expired] = outbox.of(QA_ATTESTATIONS)
    assert expired.event_type == "credstream.qa.attestation.expired"
    assert store.attestations[signed["id"]].status == "expired"
