"""The revocation service's use cases: reserve index blocks, learn credentials' entries, apply
status changes (single or bulk, coalesced per list), and build list credentials to publish.

Index allocation without shared tables (docs/revocation.md): issuance keeps a pool of indexes
reserved for it here and asks for another block (an event) when the pool runs low. Each block
holds random positions of the issuer's open list that were never reserved before; the database
refuses a second reservation of any (list, index). Issuance never waits for this service on its
hot path, and this service never reads issuance's tables: it learns which credential holds which
entry from `credential.issued`.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from contracts.topics import CREDENTIAL_STATUS, STATUS_INDEX_BLOCKS
from contracts.v1.revocation import CredentialStatusChanged, StatusIndexBlockReserved
from services.revocation.domain import (
    AuditRow,
    ChangeOutcome,
    ChangeRequest,
    Purpose,
    RevocationError,
    list_id,
    list_url,
)
from services.revocation.repository import Entry, EntryTarget, StatusList
from services.runtime.outbox import EventOutbox
from vc.status import (
    ENTRY_TYPE,
    LIST_SUBJECT_TYPE,
    LIST_TYPE,
    Bitstring,
    entries_of,
    parse_index,
)


class RevocationStore(Protocol):
    """What the use cases read and write: the status lists with their reserved and set bits,
    index blocks, credentials' entries, the audit and the changes parked for unknown credentials
    (services/revocation/repository.py; the unit tests' in-memory fake)."""

    async def notify_lists_dirty(self) -> None: ...
    async def newest_list_for_update(self, issuer_id: str, purpose: str) -> StatusList | None: ...
    async def open_list(
        self, *, list_id: str, issuer_id: str, issuer_did: str, purpose: str, seq: int, length: int, url: str
    ) -> None: ...
    async def block_for_request(self, request_id: str) -> tuple[str, str] | None: ...
    async def indexes_of_block(self, block_id: str) -> list[int]: ...
    async def record_reservation(
        self, *, block_id: str, request_id: str, list_id: str, indexes: Sequence[int], reserved: bytes
    ) -> None: ...
    async def entry_targets(self, named: Sequence[tuple[str, int]]) -> dict[tuple[str, int], EntryTarget]: ...
    async def lists_for_update(self, list_ids: Iterable[str]) -> dict[str, StatusList]: ...
    async def store_bits(self, lists: Iterable[StatusList]) -> None: ...
    async def insert_entries(self, entries: Sequence[Entry]) -> None: ...
    async def entries_of(self, credential_ids: Iterable[str]) -> dict[tuple[str, str], Entry]: ...
    async def audited(self, request_ids: Iterable[str]) -> dict[str, Any]: ...
    async def append_audit(self, rows: Sequence[AuditRow]) -> None: ...
    async def park(self, request: ChangeRequest, payload: dict[str, Any]) -> None: ...
    async def take_pending(self, credential_ids: Sequence[str]) -> list[dict[str, Any]]: ...


VC_V2 = "https://www.w3.org/ns/credentials/v2"
_rng = random.SystemRandom()


@dataclass(frozen=True)
class RevocationContext:
    """What a use case needs besides its repository, bound to one transaction by the composition
    root (services/revocation/app.py): where we are, the lists' shape, the outbox its events go
    to, and the list publisher."""

    public_base_url: str
    list_length: int
    list_ttl_s: int
    event_source: str
    outbox: EventOutbox
    publish_list: Callable[[StatusList], Awaitable[None]]
    """Signs and stores a list now (a new list is published before any of its indexes leave)."""


# index blocks


def _random_free(reserved: Bitstring, count: int, length: int, free_total: int) -> list[int]:
    count = min(count, free_total)
    if free_total > 2 * count:
        chosen: set[int] = set()
        while len(chosen) < count:
            i = _rng.randrange(length)
            if i not in chosen and not reserved.get(i):
                chosen.add(i)
        return sorted(chosen)
    free = [i for i in range(length) if not reserved.get(i)]
    return sorted(_rng.sample(free, count))


async def reserve_block(
    *,
    request_id: str,
    issuer_id: str,
    issuer_did: str,
    purpose: Purpose,
    size: int,
    repo: RevocationStore,
    ctx: RevocationContext,
    now: datetime | None = None,
) -> StatusIndexBlockReserved:
    """Reserve up to `size` random, never reserved indexes of the issuer's open list (opening a
    new list when it is full). A repeated request id returns the block reserved the first time."""
    moment = now or datetime.now(UTC)
    done = await repo.block_for_request(request_id)
    if done is not None:
        block_id, lid = done
        lists = await repo.lists_for_update([lid])
        return StatusIndexBlockReserved(
            block_id=block_id,
            request_id=request_id,
            issuer_id=issuer_id,
            purpose=purpose,
            status_list_credential=lists[lid].url,
            indexes=await repo.indexes_of_block(block_id),
            reserved_at=moment,
        )
    current = await repo.newest_list_for_update(issuer_id, purpose)
    if current is not None and current.issuer_did != issuer_did:
        raise RevocationError(
            "issuer_did_mismatch",
            f"issuer {issuer_id} has lists signed as {current.issuer_did}, not {issuer_did}",
        )
    while current is None or current.reserved_count >= current.length:
        seq = 1 if current is None else current.seq + 1
        await repo.open_list(
            list_id=list_id(issuer_id, purpose, seq),
            issuer_id=issuer_id,
            issuer_did=issuer_did,
            purpose=purpose,
            seq=seq,
            length=ctx.list_length,
            url=list_url(ctx.public_base_url, issuer_id, purpose, seq),
        )
        # Another instance may have opened (and filled) it meanwhile: look again under the lock.
        current = await repo.newest_list_for_update(issuer_id, purpose)
        if current is not None and current.seq == seq and current.version > current.published_version:
            # Published before its first block leaves: a credential never names a list nobody serves.
            await ctx.publish_list(current)
    reserved = Bitstring(data=current.reserved)
    indexes = _random_free(reserved, size, current.length, current.length - current.reserved_count)
    for i in indexes:
        reserved.set(i, True)
    block_id = str(uuid.uuid4())
    await repo.record_reservation(
        block_id=block_id,
        request_id=request_id,
        list_id=current.list_id,
        indexes=indexes,
        reserved=reserved.to_bytes(),
    )
    block = StatusIndexBlockReserved(
        block_id=block_id,
        request_id=request_id,
        issuer_id=issuer_id,
        purpose=purpose,
        status_list_credential=current.url,
        indexes=indexes,
        reserved_at=moment,
    )
    await ctx.outbox.enqueue(STATUS_INDEX_BLOCKS, block)
    return block


# credentials' entries


@dataclass(frozen=True, slots=True)
class Issued:
    """An issued credential as the revocation service learns of it (credential.issued)."""

    credential_id: str
    issuer_id: str
    credential: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _NamedEntry:
    """A status entry as an issued credential names it (checked against what was reserved)."""

    credential: Issued
    list_url: str
    purpose: str
    index: int


async def register_credentials(
    issued: Sequence[Issued], *, repo: RevocationStore, ctx: RevocationContext
) -> list[ChangeOutcome]:
    """Record the status entries of issued credentials, then apply changes that were requested
    for them before they were known. Entries that name a list or index we never reserved are
    refused. Set by set: a few statements for a batch of credentials."""
    named: list[_NamedEntry] = []
    for credential in issued:
        for entry in entries_of(credential.credential):
            if entry.get("type") != ENTRY_TYPE:
                continue
            url, purpose, raw = (
                entry.get("statusListCredential"),
                entry.get("statusPurpose"),
                entry.get("statusListIndex"),
            )
            idx = parse_index(raw)
            if not isinstance(url, str) or idx is None:
                raise RevocationError(
                    "status_entry_malformed",
                    f"credential {credential.credential_id} has a malformed status entry",
                )
            named.append(_NamedEntry(credential, url, str(purpose), idx))
    targets = await repo.entry_targets([(n.list_url, n.index) for n in named])
    entries = []
    for credential, url, purpose, idx in ((n.credential, n.list_url, n.purpose, n.index) for n in named):
        target = targets.get((url, idx))
        if target is None or target.issuer_id != credential.issuer_id:
            raise RevocationError(
                "status_list_unknown", f"{url} is not a status list of issuer {credential.issuer_id}"
            )
        if purpose != target.purpose:
            raise RevocationError(
                "status_purpose_mismatch", f"{url} is a {target.purpose} list, not {purpose}"
            )
        if not target.reserved:
            raise RevocationError("status_index_not_reserved", f"index {idx} of {url} was never reserved")
        entries.append(Entry(credential.credential_id, purpose, credential.issuer_id, target.list_id, idx))
    await repo.insert_entries(entries)
    pending = await repo.take_pending([c.credential_id for c in issued])
    if not pending:
        return []
    return await apply_changes([_request_of(p) for p in pending], repo=repo, ctx=ctx)


def _request_of(payload: dict[str, Any]) -> ChangeRequest:
    return ChangeRequest(**payload)


def _payload_of(request: ChangeRequest) -> dict[str, Any]:
    return {
        "request_id": request.request_id,
        "credential_id": request.credential_id,
        "purpose": request.purpose,
        "set": request.set,
        "reason_code": request.reason_code,
        "reason": request.reason,
        "actor": request.actor,
        "channel": request.channel,
        "issuer_id": request.issuer_id,
    }


# status changes


async def apply_changes(
    requests: Sequence[ChangeRequest],
    *,
    repo: RevocationStore,
    ctx: RevocationContext,
    park_unknown: bool = True,
    fresh_ids: bool = False,
    now: datetime | None = None,
) -> list[ChangeOutcome]:
    """Apply status changes in request order, in the caller's transaction: each list touched is
    locked once and written once, however many of its bits change (the coalescing that makes bulk
    changes cheap); every request gets one append-only audit row, every applied change one
    `credential.status-changed` event. Idempotent per request id.

    Refused: lifting a revocation (revocation is final), a credential of another issuer than the
    one named. Unknown credentials are parked until their credential.issued arrives
    (`park_unknown`), or reported as `unknown` (HTTP callers get a 404). `fresh_ids`: the request
    ids were made just now by this service, so none can have been applied before.
    """
    seen = {} if fresh_ids else await repo.audited(r.request_id for r in requests)
    entries = await repo.entries_of(r.credential_id for r in requests)
    lists = await repo.lists_for_update(
        {
            entries[(r.credential_id, r.purpose)].list_id
            for r in requests
            if (r.credential_id, r.purpose) in entries
        }
    )
    batch = _Batch(lists, changed_at=(now or datetime.now(UTC)).isoformat().replace("+00:00", "Z"))
    for r in requests:
        repeated = _repeated(r, seen.get(r.request_id), batch.requested)
        if repeated is not None:
            batch.outcomes.append(repeated)
            continue
        entry = entries.get((r.credential_id, r.purpose))
        if entry is None:
            if park_unknown:
                await repo.park(r, _payload_of(r))
            batch.outcomes.append(
                _outcome(r, "pending") if park_unknown else _outcome(r, "refused", "credential_unknown")
            )
            continue
        batch.apply(r, entry)
    for lid in batch.changed:
        lists[lid].bits = batch.bitstrings[lid].to_bytes()
    await repo.store_bits(lists[lid] for lid in sorted(batch.changed))
    if batch.audit:
        await repo.append_audit(batch.audit)
    if batch.events:
        await ctx.outbox.enqueue_bulk(CREDENTIAL_STATUS, CredentialStatusChanged, batch.events)
    if batch.changed:
        await repo.notify_lists_dirty()
    return batch.outcomes


def _outcome(
    r: ChangeRequest,
    outcome: Literal["applied", "unchanged", "refused", "pending"],
    refusal: str | None = None,
) -> ChangeOutcome:
    return ChangeOutcome(r.request_id, r.credential_id, r.purpose, r.set, outcome, refusal)


def _repeated(r: ChangeRequest, prior: Any, requested: set[str]) -> ChangeOutcome | None:
    """The outcome of a request id seen before (`prior`: its audit row; or earlier in this batch),
    else None. The same id for another change is refused: an id names one change forever."""
    if prior is not None and (prior["credential_id"], prior["purpose"], prior["set_bit"]) != (
        r.credential_id,
        r.purpose,
        r.set,
    ):
        return _outcome(r, "refused", "request_id_reused")
    if prior is not None:
        return _outcome(r, prior["outcome"], prior["refusal"])
    if r.request_id in requested:
        return _outcome(r, "unchanged", "duplicate request id in this batch")
    return None


def _refusal(r: ChangeRequest, entry: Entry) -> str | None:
    if r.issuer_id is not None and r.issuer_id != entry.issuer_id:
        return "credential_of_another_issuer"
    if r.purpose == "revocation" and not r.set:
        return "revocation_is_final"
    return None


class _Batch:
    """The changes of one `apply_changes` call: the lists' bits as they change, and the audit rows,
    events and outcomes to write once at the end."""

    def __init__(self, lists: Mapping[str, StatusList], *, changed_at: str) -> None:
        self.lists = lists
        self.bitstrings = {lid: Bitstring(data=sl.bits) for lid, sl in lists.items()}
        self.changed_at = changed_at
        self.changed: set[str] = set()
        self.requested: set[str] = set()
        self.outcomes: list[ChangeOutcome] = []
        self.audit: list[AuditRow] = []
        self.events: list[dict[str, Any]] = []

    def apply(self, r: ChangeRequest, entry: Entry) -> None:
        self.requested.add(r.request_id)
        status_list, bits = self.lists[entry.list_id], self.bitstrings[entry.list_id]
        refusal = _refusal(r, entry)
        outcome: Literal["applied", "unchanged", "refused"]
        if refusal is not None:
            outcome = "refused"
        elif bits.get(entry.idx) == r.set:
            outcome = "unchanged"
        else:
            outcome = "applied"
            bits.set(entry.idx, r.set)
            self.changed.add(entry.list_id)
            self.events.append(
                {
                    "change_id": r.request_id,
                    "credential_id": r.credential_id,
                    "issuer_id": entry.issuer_id,
                    "purpose": r.purpose,
                    "set": r.set,
                    "status_list_credential": status_list.url,
                    "status_list_index": str(entry.idx),
                    "changed_at": self.changed_at,
                }
            )
        self.audit.append(
            AuditRow(
                request_id=r.request_id, credential_id=r.credential_id, issuer_id=entry.issuer_id,
                purpose=r.purpose, set_bit=r.set, outcome=outcome, refusal=refusal,
                reason_code=r.reason_code, reason=r.reason, actor=r.actor, channel=r.channel,
                list_id=entry.list_id, idx=entry.idx,
            )
        )  # fmt: skip
        self.outcomes.append(
            ChangeOutcome(
                r.request_id, r.credential_id, r.purpose, r.set, outcome, refusal, status_list.url, entry.idx
            )
        )


# publication


def list_credential(status_list: StatusList, *, ttl_s: int, now: datetime) -> dict[str, Any]:
    """The unsigned `BitstringStatusListCredential` of one list (spec section 2.2)."""
    return {
        "@context": [VC_V2],
        "id": status_list.url,
        "type": ["VerifiableCredential", LIST_TYPE],
        "issuer": status_list.issuer_did,
        "validFrom": now.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "credentialSubject": {
            "id": f"{status_list.url}#list",
            "type": LIST_SUBJECT_TYPE,
            "statusPurpose": status_list.purpose,
            "encodedList": Bitstring(data=status_list.bits).encode(),
            "ttl": ttl_s * 1000,
        },
    }
