"""The issuance use cases with in-memory fakes (no database, no broker): a defined achievement
becomes a signed credential exactly once, awards wait (parked, with the reason) for QA or for
status indexes and are released, and a withdrawal under the `suspend` policy asks for the
suspension of what relied on it."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from contracts.ids import credential_id
from contracts.topics import (
    ACHIEVEMENT_DEFINITIONS,
    CREDENTIALS_ISSUED,
    STATUS_INDEX_REQUESTS,
    STATUS_REQUESTS,
)
from services.issuance import service
from services.issuance.assurance import QaAttestation
from services.issuance.domain import Award, IssuerProfile, Learner, MicroCredentialSpec
from services.issuance.keyring import Keyring
from services.issuance.service import IssuanceContext
from services.issuance.status import WAITING_FOR_INDEXES, FreeIndexGauge, StatusPolicy
from tests.fixtures.fakes import FakeIssuanceStore, FakeStatusPool, RecordingOutbox
from tests.fixtures.issuance import IssuerScenario
from vc.keys import StaticKeyResolver
from vc.proofs import verify_proof

BASE = "https://credstream.test"
KEYRING = Keyring("kek-1", base64.urlsafe_b64encode(bytes(range(32))).decode())
NOW = datetime.now(UTC)
T = TypeVar("T")


class World:
    """One issuer and its achievement in fake stores; `ctx()` is a fresh transaction's context."""

    def __init__(self, *, qa_policy: str = "allow_unassured", withdrawal_policy: str = "none") -> None:
        self.scenario = IssuerScenario(qa_policy=qa_policy, withdrawal_policy=withdrawal_policy)
        self.store, self.pool, self.outbox = FakeIssuanceStore(), FakeStatusPool(), RecordingOutbox()
        self.issuer = IssuerProfile.model_validate(self.scenario.issuer())
        self.spec = MicroCredentialSpec.model_validate(self.scenario.achievement())

    def ctx(self) -> IssuanceContext:
        self.outbox = RecordingOutbox()
        policy = StatusPolicy(enabled=True, block_size=4, low_water=2, gauge=FreeIndexGauge())
        return IssuanceContext(
            public_base_url=BASE, keyring=KEYRING, outbox=self.outbox, status_pool=self.pool, status=policy
        )

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run(coroutine)

    def define(self) -> None:
        self.run(service.register_issuer(self.issuer, repo=self.store, ctx=self.ctx()))
        self.run(service.define_achievement(self.spec, repo=self.store, ctx=self.ctx()))

    def give_indexes(self, count: int = 8) -> None:
        for purpose in ("revocation", "suspension"):
            request = self.pool.open_requests.get((self.issuer.issuer_id, purpose), f"r-{purpose}")
            list_url = f"{BASE}/status-lists/{self.issuer.issuer_id}/{purpose}/1"
            self.run(self.pool.add_block(
                block_id=f"b-{purpose}", request_id=request, issuer_id=self.issuer.issuer_id, purpose=purpose,
                list_url=list_url, indexes=list(range(count)),
            ))  # fmt: skip

    def award(self, learner: str, *, earned_id: str | None = None) -> Award:
        return Award(
            earned_id=earned_id or f"urn:uuid:00000000-0000-4000-8000-{abs(hash(learner)) % 10**12:012d}",
            issuer_id=self.issuer.issuer_id, achievement_id=self.spec.achievement_id, award=1,
            learner=Learner(learner_id=learner, email=f"{learner}@l.test"), earned_at=NOW,
        )  # fmt: skip

    def issue(self, *awards: Award) -> list[str]:
        return self.run(service.issue_awards(list(awards), repo=self.store, ctx=self.ctx()))

    def attestation(self, *, status: str = "active", withdrawn_at: datetime | None = None) -> QaAttestation:
        return QaAttestation(
            attestation_id="urn:uuid:qa-1", agency_id="haka", agency_did="did:key:z6Mk", agency_name="HAKA",
            subject_kind="issuer", subject_id=self.issuer.issuer_id, decision="positive", scope={},
            standard="ESG 2015", report_url=None, valid_from=NOW - timedelta(days=1),
            valid_until=NOW + timedelta(days=365), status=status, withdrawn_at=withdrawn_at,
            endorsement_id="urn:uuid:qa-1",
        )  # fmt: skip


def test_a_new_issuer_gets_a_key_and_asks_for_its_first_status_index_blocks() -> None:
    world = World()
    ctx = world.ctx()
    assert world.run(service.register_issuer(world.issuer, repo=world.store, ctx=ctx)) is True
    assert [k.status for k in world.store.keys] == ["active"]
    requests = world.outbox.of(STATUS_INDEX_REQUESTS)
    assert sorted(r.purpose for r in requests) == ["revocation", "suspension"]
    # Registering again: no new key, and no second request while the first is open.
    assert world.run(service.register_issuer(world.issuer, repo=world.store, ctx=world.ctx())) is False
    assert len(world.store.keys) == 1 and world.outbox.events == []


def test_an_award_becomes_one_signed_credential_announced_once() -> None:
    world = World()
    world.define()
    world.give_indexes()
    award = world.award("ada")
    [issued] = world.issue(award)
    assert issued == credential_id(award.earned_id)
    [event] = world.outbox.of(CREDENTIALS_ISSUED)
    assert (event.credential_id, event.earned_id) == (issued, award.earned_id)
    document = event.credential
    keys = world.store.keys
    did_document = world.run(service.did_document(world.issuer.issuer_id, repo=world.store))
    assert isinstance(did_document, dict) and keys
    proof = verify_proof(document, resolver=StaticKeyResolver.of([did_document]), now=NOW)
    assert proof.verification_method == keys[0].key_id
    assert [e["statusPurpose"] for e in document["credentialStatus"]] == ["revocation", "suspension"]
    # The same award again (a redelivery) and the same learner under another earned id: nothing.
    assert world.issue(award) == []
    assert world.issue(world.award("ada", earned_id="urn:uuid:11111111-1111-4111-8111-111111111111")) == []
    assert world.outbox.of(CREDENTIALS_ISSUED) == [] and len(world.store.credentials) == 1


def test_an_achievement_definition_is_announced_once_per_revision() -> None:
    world = World()
    world.run(service.register_issuer(world.issuer, repo=world.store, ctx=world.ctx()))
    ctx = world.ctx()
    assert world.run(service.define_achievement(world.spec, repo=world.store, ctx=ctx)) == (1, [])
    [defined] = world.outbox.of(ACHIEVEMENT_DEFINITIONS)
    assert (defined.achievement_id, defined.revision) == (world.spec.achievement_id, 1)
    assert world.run(service.define_achievement(world.spec, repo=world.store, ctx=world.ctx())) == (1, [])
    assert world.outbox.events == []


def test_awards_wait_for_status_indexes_and_go_out_when_a_block_arrives() -> None:
    world = World()
    world.define()
    awards = [world.award(f"learner-{n}") for n in range(3)]
    assert world.issue(*awards) == []
    assert {world.store.state_of(a.earned_id) for a in awards} == {("parked", WAITING_FOR_INDEXES)}
    world.give_indexes(2)  # enough for two of the three
    released = world.run(
        service.release_waiting_for_indexes(world.issuer.issuer_id, repo=world.store, ctx=world.ctx())
    )
    assert isinstance(released, list) and len(released) == 2
    assert [world.store.state_of(a.earned_id)[0] for a in awards].count("parked") == 1
    assert world.outbox.of(STATUS_INDEX_REQUESTS), "the pool ran low: the next block is asked for"


def test_without_qa_an_award_is_parked_with_its_reason_and_a_grant_releases_it() -> None:
    world = World(qa_policy="require")
    world.define()
    world.give_indexes()
    award = world.award("ada")
    assert world.issue(award) == []
    state, reason = world.store.state_of(award.earned_id)
    assert state == "parked" and reason is not None and reason.startswith("qa_missing:")
    ctx = world.ctx()
    released = world.run(
        service.apply_attestation("granted", world.attestation(), endorsement=None, repo=world.store, ctx=ctx)
    )
    assert released == [credential_id(award.earned_id)]
    [event] = world.outbox.of(CREDENTIALS_ISSUED)
    assert event.credential["credentialSubject"]["achievement"]["qualityAssurance"]["qaType"] == "external"


@pytest.mark.parametrize(("policy", "suspended"), [("suspend", 1), ("none", 0)])
def test_a_withdrawal_suspends_what_relied_on_it_under_the_suspend_policy(
    policy: str, suspended: int
) -> None:
    world = World(qa_policy="require", withdrawal_policy=policy)
    world.define()
    world.give_indexes()
    world.run(
        service.apply_attestation(
            "granted", world.attestation(), endorsement=None, repo=world.store, ctx=world.ctx()
        )
    )
    [issued] = world.issue(world.award("ada"))
    withdrawn = world.attestation(status="withdrawn", withdrawn_at=NOW - timedelta(hours=1))
    ctx = world.ctx()
    asked = world.run(
        service.apply_attestation("withdrawn", withdrawn, endorsement=None, repo=world.store, ctx=ctx)
    )
    requests = world.outbox.of(STATUS_REQUESTS)
    assert len(requests) == suspended and asked == [issued][:suspended]
    if requests:
        assert (requests[0].credential_id, requests[0].purpose, requests[0].set) == (
            issued,
            "suspension",
            True,
        )
    # Later awards wait: the attestation is withdrawn.
    later = world.award("bo")
    assert world.issue(later) == []
    assert (world.store.state_of(later.earned_id)[1] or "").startswith("qa_withdrawn:")
