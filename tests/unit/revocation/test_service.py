"""The revocation use cases with in-memory fakes (no database, no broker): index blocks are
random and never reused, credentials' entries are checked against what was reserved, and status
changes are applied once, audited, announced, and refused where the rules say so."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from contracts.topics import CREDENTIAL_STATUS, STATUS_INDEX_BLOCKS
from services.revocation import service
from services.revocation.domain import ChangeRequest, RevocationError
from services.revocation.repository import StatusList
from services.revocation.service import Issued, RevocationContext
from tests.fixtures.fakes import FakeRevocationStore, RecordingOutbox
from vc.status import Bitstring, status_entry

T = TypeVar("T")
ISSUER, DID = "uni", "did:web:credstream.test:issuers:uni"


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


class World:
    def __init__(self, *, list_length: int = 64) -> None:
        self.store, self.outbox = FakeRevocationStore(), RecordingOutbox()
        self.published: list[str] = []
        self.list_length = list_length

    def ctx(self) -> RevocationContext:
        async def publish(status_list: StatusList) -> None:
            self.published.append(status_list.list_id)

        return RevocationContext(
            public_base_url="https://credstream.test", list_length=self.list_length, list_ttl_s=60,
            event_source="urn:test", outbox=self.outbox, publish_list=publish,
        )  # fmt: skip

    def reserve(self, request_id: str, size: int, purpose: str = "revocation") -> Any:
        return run(service.reserve_block(
            request_id=request_id, issuer_id=ISSUER, issuer_did=DID, purpose=purpose,  # type: ignore[arg-type]
            size=size, repo=self.store, ctx=self.ctx(),
        ))  # fmt: skip

    def credential(
        self, credential_id: str, revocation: tuple[str, int], suspension: tuple[str, int]
    ) -> Issued:
        entries = [status_entry(*revocation, "revocation"), status_entry(*suspension, "suspension")]
        return Issued(credential_id, ISSUER, {"id": credential_id, "credentialStatus": entries})

    def change(
        self, request_id: str, credential_id: str, purpose: str, set_bit: bool, **kw: Any
    ) -> ChangeRequest:
        return ChangeRequest(
            request_id=request_id, credential_id=credential_id, purpose=purpose,  # type: ignore[arg-type]
            set=set_bit, reason_code="test", reason=None, actor="urn:test", channel="event", **kw,
        )  # fmt: skip

    def issued_one(self) -> str:
        rev, sus = self.reserve("r-rev", 4), self.reserve("r-sus", 4, "suspension")
        credential = self.credential(
            "urn:uuid:c-1",
            (rev.status_list_credential, rev.indexes[0]),
            (sus.status_list_credential, sus.indexes[0]),
        )
        run(service.register_credentials([credential], repo=self.store, ctx=self.ctx()))
        return credential.credential_id


def test_blocks_are_random_never_reused_and_a_full_list_opens_the_next_published_first() -> None:
    world = World(list_length=64)
    first, second = world.reserve("r-1", 40), world.reserve("r-2", 40)
    assert len(first.indexes) == 40 and len(second.indexes) == 24, "the rest of list 1"
    assert not set(first.indexes) & set(second.indexes)
    third = world.reserve("r-3", 8)
    assert third.status_list_credential.endswith("/revocation/2")
    assert world.published == [f"{ISSUER}/revocation/1", f"{ISSUER}/revocation/2"], "published before use"
    again = world.reserve("r-1", 40)
    assert (again.block_id, again.indexes) == (first.block_id, first.indexes), (
        "the same request, the same block"
    )
    announced = world.outbox.of(STATUS_INDEX_BLOCKS)
    assert [b.block_id for b in announced] == [first.block_id, second.block_id, third.block_id], (
        "a repeated request is answered from what was reserved, not announced again"
    )


def test_entries_must_name_an_index_that_was_reserved_for_the_issuer() -> None:
    world = World()
    rev, sus = world.reserve("r-rev", 4), world.reserve("r-sus", 4, "suspension")
    rev_url, sus_url = rev.status_list_credential, sus.status_list_credential
    free = next(i for i in range(64) if i not in rev.indexes)
    cases = [
        (
            world.credential("urn:uuid:x-1", (rev_url, free), (sus_url, sus.indexes[0])),
            "status_index_not_reserved",
        ),
        (
            world.credential("urn:uuid:x-2", ("https://elsewhere/list/1", 3), (sus_url, sus.indexes[0])),
            "status_list_unknown",
        ),
        (
            world.credential("urn:uuid:x-3", (sus_url, sus.indexes[0]), (sus_url, sus.indexes[1])),
            "status_purpose_mismatch",
        ),
    ]
    for credential, reason in cases:
        with pytest.raises(RevocationError) as refused:
            run(service.register_credentials([credential], repo=world.store, ctx=world.ctx()))
        assert refused.value.reason == reason
    assert world.store.entries == {}


def test_a_change_is_applied_once_audited_and_announced_and_revocation_is_final() -> None:
    world = World()
    credential_id = world.issued_one()
    revoke = world.change("q-1", credential_id, "revocation", True)
    [applied] = run(service.apply_changes([revoke], repo=world.store, ctx=world.ctx()))
    assert applied.outcome == "applied"
    entry = world.store.entries[(credential_id, "revocation")]
    assert Bitstring(data=world.store.lists[entry.list_id].bits).get(entry.idx) is True
    [event] = world.outbox.bulk
    assert (
        event[0] == CREDENTIAL_STATUS.name
        and event[1]["change_id"] == "q-1"
        and world.store.dirty_notices == 1
    )
    # The same request again: its first outcome, nothing new written or announced.
    [repeated] = run(service.apply_changes([revoke], repo=world.store, ctx=world.ctx()))
    assert repeated.outcome == "applied" and len(world.outbox.bulk) == 1 and len(world.store.audit) == 1
    lift = world.change("q-2", credential_id, "revocation", False)
    other = world.change("q-3", credential_id, "suspension", True, issuer_id="another-uni")
    reused = world.change("q-1", credential_id, "suspension", True)
    outcomes = run(service.apply_changes([lift, other, reused], repo=world.store, ctx=world.ctx()))
    assert [(o.outcome, o.refusal) for o in outcomes] == [
        ("refused", "revocation_is_final"),
        ("refused", "credential_of_another_issuer"),
        ("refused", "request_id_reused"),
    ]
    assert [row.outcome for row in world.store.audit] == ["applied", "refused", "refused"]


def test_a_change_for_an_unknown_credential_waits_and_is_applied_when_the_credential_arrives() -> None:
    world = World()
    suspend = world.change("q-1", "urn:uuid:c-1", "suspension", True)
    [pending] = run(service.apply_changes([suspend], repo=world.store, ctx=world.ctx()))
    assert pending.outcome == "pending" and world.outbox.bulk == []
    credential_id = world.issued_one()  # registers urn:uuid:c-1 and applies what waited
    entry = world.store.entries[(credential_id, "suspension")]
    assert Bitstring(data=world.store.lists[entry.list_id].bits).get(entry.idx) is True
    assert world.store.pending == [] and [p[1]["change_id"] for p in world.outbox.bulk] == ["q-1"]
