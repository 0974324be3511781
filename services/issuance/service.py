"""Use cases of the issuance service. No FastStream and no SQL here."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from contracts.ids import credential_id
from contracts.topics import ACHIEVEMENT_DEFINITIONS, CREDENTIALS_ISSUED, STATUS_REQUESTS
from contracts.v1.assessment import AchievementCriteria, AchievementDefined
from contracts.v1.issuance import CredentialIssued
from contracts.v1.revocation import CredentialStatusChangeRequested
from services.issuance.assurance import QaAttestation, covering, unassured
from services.issuance.credential import build_credential
from services.issuance.domain import (
    Award,
    IssuanceError,
    IssuerProfile,
    MicroCredentialSpec,
    QualityAssuranceRef,
    did_web,
)
from services.issuance.keyring import Keyring
from services.issuance.profile import claims_profile, validate_profile
from services.issuance.repository import (
    StoredAchievement,
    StoredCredential,
    StoredIssuer,
    StoredKey,
)
from services.issuance.status import (
    PURPOSES,
    WAITING_FOR_INDEXES,
    StatusPolicy,
    StatusPool,
    entries_for,
    request_block_if_low,
)
from services.issuance.verification import issuer_id_of
from services.runtime.outbox import EventOutbox
from vc import keys, multibase
from vc.keys import Ed25519Signer
from vc.proofs import ProofError, create_proof


class IssuanceStore(Protocol):
    """What the use cases read and write: issuers and their keys, achievement specifications,
    awards (requests) with their state, credentials, and issuance's view of QA attestations
    (services/issuance/repository.py; the unit tests' in-memory fake)."""

    async def upsert_issuer(self, *, profile: IssuerProfile, did: str) -> bool: ...
    async def get_issuer(self, issuer_id: str) -> StoredIssuer | None: ...
    async def lock_issuer(self, issuer_id: str) -> None: ...
    async def add_key(self, *, key_id: str, issuer_id: str, public_multibase: str, sealed: bytes) -> None: ...
    async def sealed_keys_for_update(self) -> list[tuple[str, bytes]]: ...
    async def replace_sealed_key(self, *, key_id: str, sealed: bytes) -> None: ...
    async def keys_of(self, issuer_id: str) -> list[StoredKey]: ...
    async def active_key(self, issuer_id: str) -> StoredKey | None: ...
    async def upsert_achievement(self, spec: MicroCredentialSpec) -> tuple[int, bool]: ...
    async def get_achievement(self, achievement_id: str) -> StoredAchievement | None: ...
    async def record_requests(self, awards: Sequence[Award], *, state: str, reason: str | None) -> None: ...
    async def parked_requests(
        self, *, issuer_id: str, achievement_id: str | None = None, reason: str | None = None
    ) -> list[Award]: ...
    async def insert_credentials(
        self, credentials: Sequence[StoredCredential], *, learner_emails: Mapping[str | None, str | None]
    ) -> set[str]: ...
    async def apply_qa_fact(
        self, kind: str, attestation: QaAttestation, endorsement: dict[str, Any] | None
    ) -> None: ...
    async def qa_attestations_for(self, *, issuer_id: str, achievement_id: str) -> list[QaAttestation]: ...
    async def credentials_relying_on(
        self, attestation_id: str, *, issued_since: datetime
    ) -> list[StoredCredential]: ...


@dataclass(frozen=True, slots=True)
class IssuanceContext:
    """What a use case needs besides its repository, bound to one transaction by the composition
    root (services/issuance/app.py): where we are, the KEK, the status index pool and its policy,
    and the outbox its events go to."""

    public_base_url: str
    keyring: Keyring
    outbox: EventOutbox
    status_pool: StatusPool
    status: StatusPolicy
    actor: str = "urn:credstream:service:issuance"

    def issuer_did(self, issuer_id: str) -> str:
        return did_web(self.public_base_url, issuer_id)

    def achievement_url(self, issuer_id: str, achievement_id: str) -> str:
        return f"{self.public_base_url.rstrip('/')}/issuers/{issuer_id}/achievements/{achievement_id}"


# issuers and keys


async def register_issuer(profile: IssuerProfile, *, repo: IssuanceStore, ctx: IssuanceContext) -> bool:
    """Create or update an issuer; a new issuer gets its first signing key. True when new."""
    created = await repo.upsert_issuer(profile=profile, did=ctx.issuer_did(profile.issuer_id))
    if created:
        await _add_key(profile.issuer_id, repo=repo, ctx=ctx)
    if ctx.status.enabled:
        # Ask for the first blocks of status list indexes now, so the first award does not wait.
        for purpose in PURPOSES:
            await request_block_if_low(
                issuer_id=profile.issuer_id,
                issuer_did=ctx.issuer_did(profile.issuer_id),
                purpose=purpose,
                pool=ctx.status_pool,
                policy=ctx.status,
                outbox=ctx.outbox,
            )
    return created


async def rotate_key(issuer_id: str, *, repo: IssuanceStore, ctx: IssuanceContext) -> str:
    """A new active key; the old one is retired but stays in the DID document. Returns its id."""
    if await repo.get_issuer(issuer_id) is None:
        raise IssuanceError("issuer_unknown", f"issuer {issuer_id} does not exist")
    await repo.lock_issuer(issuer_id)
    return await _add_key(issuer_id, repo=repo, ctx=ctx)


async def _add_key(issuer_id: str, *, repo: IssuanceStore, ctx: IssuanceContext) -> str:
    seed = keys.generate_seed()
    public = multibase.encode_public_key(keys.public_key_of(seed))
    # The fragment is the key itself: unique, stable, and readable by any Multikey tooling.
    key_id = f"{ctx.issuer_did(issuer_id)}#{public}"
    await repo.add_key(
        key_id=key_id,
        issuer_id=issuer_id,
        public_multibase=public,
        sealed=ctx.keyring.seal(key_id, seed),
    )
    return key_id


async def signer_for(issuer_id: str, *, repo: IssuanceStore, ctx: IssuanceContext) -> Ed25519Signer:
    key = await repo.active_key(issuer_id)
    if key is None:
        raise IssuanceError("issuer_has_no_key", f"issuer {issuer_id} has no active signing key")
    return Ed25519Signer(key.key_id, ctx.keyring.unseal(key.key_id, key.sealed_secret))


async def rewrap_keys(*, repo: IssuanceStore, keyring: Keyring) -> tuple[int, int]:
    """KEK rotation: every stored private key re-sealed under the active KEK, in the caller's
    transaction (rows locked, so a key added meanwhile waits and is sealed under the new KEK by
    an instance configured with it). Returns (re-wrapped, already under the active KEK)."""
    rewrapped = unchanged = 0
    for key_id, sealed in await repo.sealed_keys_for_update():
        resealed = keyring.rewrap(key_id, sealed)
        if resealed is None:
            unchanged += 1
        else:
            await repo.replace_sealed_key(key_id=key_id, sealed=resealed)
            rewrapped += 1
    return rewrapped, unchanged


async def did_document(issuer_id: str, *, repo: IssuanceStore) -> dict[str, Any] | None:
    """The issuer's DID document: every key it ever had, the active one first in assertionMethod.
    Retired keys stay listed, so credentials they signed keep verifying."""
    issuer = await repo.get_issuer(issuer_id)
    if issuer is None:
        return None
    stored = await repo.keys_of(issuer_id)
    methods = [
        {
            "id": k.key_id,
            "type": "Multikey",
            "controller": issuer.did,
            "publicKeyMultibase": k.public_multibase,
        }
        for k in stored
    ]
    ordered = sorted(stored, key=lambda k: k.status != "active")
    return {
        "@context": [keys.DID_CONTEXT, keys.MULTIKEY_CONTEXT],
        "id": issuer.did,
        "verificationMethod": methods,
        "assertionMethod": [k.key_id for k in ordered],
        "authentication": [k.key_id for k in ordered if k.status == "active"],
    }


# achievements


async def define_achievement(
    spec: MicroCredentialSpec, *, repo: IssuanceStore, ctx: IssuanceContext, now: datetime | None = None
) -> tuple[int, list[str]]:
    """Store a specification and tell the assessment service (achievement.defined, with its
    criteria). Requests parked for want of it are issued now. Returns (revision, credential ids)."""
    if await repo.get_issuer(spec.issuer_id) is None:
        raise IssuanceError("issuer_unknown", f"issuer {spec.issuer_id} does not exist")
    existing = await repo.get_achievement(spec.achievement_id)
    if existing is not None and existing.spec.issuer_id != spec.issuer_id:
        raise IssuanceError("achievement_owned_elsewhere", "the achievement id belongs to another issuer")
    revision, changed = await repo.upsert_achievement(spec)
    if changed:
        await ctx.outbox.enqueue(
            ACHIEVEMENT_DEFINITIONS,
            AchievementDefined(
                achievement_id=spec.achievement_id,
                issuer_id=spec.issuer_id,
                revision=revision,
                name=spec.name,
                criteria=AchievementCriteria.model_validate(spec.criteria.model_dump()),
                status=spec.status,
            ),
        )
    issued = []
    if spec.status == "active":
        parked = await repo.parked_requests(issuer_id=spec.issuer_id, achievement_id=spec.achievement_id)
        issued = await issue_awards(parked, repo=repo, ctx=ctx, now=now)
    return revision, issued


# credentials


async def issue_awards(
    awards: Sequence[Award], *, repo: IssuanceStore, ctx: IssuanceContext, now: datetime | None = None
) -> list[str]:
    """Turn earned achievements into signed, stored and published credentials.

    Exactly once per (issuer, learner, achievement, award): the credential id is derived from the
    earned id and the database refuses a second row. When the issuer or achievement is not known
    yet, or no QA covers it, or no status list index is free, the award is parked with its reason.
    Awards of one issuer and achievement are handled together, set by set (a batch costs a few
    statements, not a few per award). Returns the credential ids issued now.
    """
    groups: dict[tuple[str, str], dict[str, Award]] = {}
    for award in awards:  # one award per earned id (a redelivered fact is the same award)
        groups.setdefault((award.issuer_id, award.achievement_id), {}).setdefault(award.earned_id, award)
    issued: list[str] = []
    for (issuer_id, achievement_id), group in groups.items():
        issued += await _issue_group(
            issuer_id, achievement_id, list(group.values()), repo=repo, ctx=ctx, now=now
        )
    return issued


async def _issue_group(
    issuer_id: str,
    achievement_id: str,
    awards: list[Award],
    *,
    repo: IssuanceStore,
    ctx: IssuanceContext,
    now: datetime | None,
) -> list[str]:
    """Issue one issuer's awards of one achievement: park what cannot be issued (with the reason),
    sign the rest, store them and announce the credentials stored now."""
    issuer = await repo.get_issuer(issuer_id)
    stored = await repo.get_achievement(achievement_id)
    reason = _unissuable(issuer_id, achievement_id, issuer, stored)
    if reason is not None or issuer is None or stored is None:
        await repo.record_requests(awards, state="parked", reason=reason)
        return []
    clock = now or datetime.now(UTC)
    candidates = await repo.qa_attestations_for(issuer_id=issuer_id, achievement_id=achievement_id)
    # Coverage is judged at the exact time of issue, not the truncated one.
    attestation, qa_reason = covering(candidates, stored.spec, issuer.profile, clock)
    if attestation is None and issuer.profile.qa_policy != "allow_unassured":
        await repo.record_requests(awards, state="parked", reason=qa_reason)
        return []
    # Status entries last: an award parked for QA takes no index.
    ids = {award.earned_id: credential_id(award.earned_id) for award in awards}
    entries = await entries_for(
        list(ids.values()), issuer_id=issuer_id, issuer_did=issuer.did, pool=ctx.status_pool,
        policy=ctx.status, outbox=ctx.outbox,
    )  # fmt: skip
    waiting = [award for award in awards if entries[ids[award.earned_id]] is None]
    if waiting:
        await repo.record_requests(waiting, state="parked", reason=WAITING_FOR_INDEXES)
    ready = [award for award in awards if entries[ids[award.earned_id]] is not None]
    if not ready:
        return []
    moment = clock.replace(microsecond=0)  # the credential's dates have one-second precision
    issue = _Issue(
        issuer=issuer,
        spec=stored.spec,
        quality_assurance=attestation.reference() if attestation else unassured(stored.spec),
        attestation_id=attestation.attestation_id if attestation else None,
        moment=moment,
        signer=await signer_for(issuer_id, repo=repo, ctx=ctx),
    )
    records = [issue.credential(a, ids[a.earned_id], entries[ids[a.earned_id]], ctx) for a in ready]
    await repo.record_requests(ready, state="issued", reason=None)
    return await _store_and_announce(records, ready, repo=repo, ctx=ctx, moment=moment)


def _unissuable(
    issuer_id: str, achievement_id: str, issuer: StoredIssuer | None, stored: StoredAchievement | None
) -> str | None:
    """Why an award of this achievement cannot be issued at all now, or None."""
    if issuer is None:
        return f"issuer {issuer_id} is not registered with the issuance service"
    if stored is None or stored.spec.issuer_id != issuer_id:
        return f"achievement {achievement_id} is not defined for issuer {issuer_id}"
    if stored.spec.status != "active":
        return f"achievement {achievement_id} is retired"
    return None


@dataclass(frozen=True, slots=True)
class _Issue:
    """What every credential of one group shares: issuer, specification, QA, time and signer."""

    issuer: StoredIssuer
    spec: MicroCredentialSpec
    quality_assurance: QualityAssuranceRef
    attestation_id: str | None
    moment: datetime
    signer: Ed25519Signer

    def credential(
        self, award: Award, credential_id: str, entries: list[dict[str, Any]] | None, ctx: IssuanceContext
    ) -> StoredCredential:
        """The signed credential of one award, as it is stored."""
        profile = self.issuer.profile
        document = build_credential(
            credential_id=credential_id,
            issuer=profile,
            issuer_did=self.issuer.did,
            spec=self.spec,
            achievement_url=ctx.achievement_url(profile.issuer_id, self.spec.achievement_id),
            award=award,
            issued_at=self.moment,
            salt=secrets.token_hex(16),
            quality_assurance=self.quality_assurance,
            status_entries=entries,
        )
        return StoredCredential(
            credential_id=document["id"],
            issuer_id=profile.issuer_id,
            achievement_id=self.spec.achievement_id,
            learner_id=award.learner.learner_id,
            award=award.award,
            earned_id=award.earned_id,
            document=sign_with(document, self.signer, profile.cryptosuite, created=self.moment),
            issued_at=self.moment,
            qa_attestation_id=self.attestation_id,
        )


async def _store_and_announce(
    records: list[StoredCredential],
    awards: list[Award],
    *,
    repo: IssuanceStore,
    ctx: IssuanceContext,
    moment: datetime,
) -> list[str]:
    # A credential refused by the database was issued before (e.g. the same award under another
    # earned event id): it is neither returned nor published again.
    inserted = await repo.insert_credentials(
        records, learner_emails={award.earned_id: award.learner.email for award in awards}
    )
    fresh = [record for record in records if record.credential_id in inserted]
    await ctx.outbox.enqueue(
        CREDENTIALS_ISSUED,
        [
            CredentialIssued(
                credential_id=record.credential_id,
                issuer_id=record.issuer_id,
                achievement_id=record.achievement_id,
                earned_id=record.earned_id,
                issued_at=moment,
                credential=record.document,
            )
            for record in fresh
        ],
    )
    return [record.credential_id for record in fresh]


# QA attestations


async def apply_attestation(
    kind: str,
    attestation: QaAttestation,
    *,
    endorsement: dict[str, Any] | None,
    repo: IssuanceStore,
    ctx: IssuanceContext,
    now: datetime | None = None,
) -> list[str]:
    """Keep issuance's QA view current. A grant or renewal releases the awards parked for want of
    it; a withdrawal applies the issuer's withdrawal policy. Returns the credential ids issued
    (grant/renewal) or asked to be suspended (withdrawal)."""
    await repo.apply_qa_fact(kind, attestation, endorsement)
    issuer_id = attestation.subject_id
    achievement_id = None
    if attestation.subject_kind == "achievement":
        stored = await repo.get_achievement(attestation.subject_id)
        if stored is None:
            return []  # nothing of it issued or parked yet; the view serves its first award
        issuer_id, achievement_id = stored.spec.issuer_id, stored.spec.achievement_id
    if kind in ("granted", "renewed"):
        parked = await repo.parked_requests(issuer_id=issuer_id, achievement_id=achievement_id)
        return await issue_awards(parked, repo=repo, ctx=ctx, now=now)
    issuer = await repo.get_issuer(issuer_id)
    if kind != "withdrawn" or issuer is None or issuer.profile.withdrawal_policy != "suspend":
        return []
    effective = attestation.withdrawn_at or now or datetime.now(UTC)
    suspended = []
    for credential in await repo.credentials_relying_on(attestation.attestation_id, issued_since=effective):
        await ctx.outbox.enqueue(
            STATUS_REQUESTS,
            CredentialStatusChangeRequested(
                # Derived ids: a redelivered withdrawal asks for the same change, not a second one.
                request_id=str(
                    uuid.uuid5(uuid.NAMESPACE_URL, f"{attestation.attestation_id}|{credential.credential_id}")
                ),
                credential_id=credential.credential_id,
                issuer_id=credential.issuer_id,
                purpose="suspension",
                set=True,
                reason_code="qa_attestation_withdrawn",
                reason=f"QA attestation {attestation.attestation_id} was withdrawn with effect from "
                f"{effective.isoformat()}; the credential was issued on {credential.issued_at.isoformat()}.",
                actor=ctx.actor,
            ),
        )
        suspended.append(credential.credential_id)
    return suspended


def issuer_named(credential: dict[str, Any], *, public_base_url: str) -> str:
    """The id of our issuer whose did:web a credential names as its `issuer`;
    IssuanceError(issuer_not_ours) for anything else."""
    issuer_did = issuer_id_of(credential)
    prefix = did_web(public_base_url, "")
    if issuer_did is None or not issuer_did.startswith(prefix):
        raise IssuanceError("issuer_not_ours", "credential.issuer must be the did:web of one of our issuers")
    return issuer_did.removeprefix(prefix)


async def issue_direct(
    credential: dict[str, Any], *, repo: IssuanceStore, ctx: IssuanceContext
) -> dict[str, Any]:
    """VC-API issue: the credential as given, signed with the active key of the issuer it names
    (checked against credstream's profile when it claims it, see `sign_with`)."""
    issuer_id = issuer_named(credential, public_base_url=ctx.public_base_url)
    issuer = await repo.get_issuer(issuer_id)
    if issuer is None or issuer.did != issuer_id_of(credential):
        raise IssuanceError("issuer_unknown", f"{issuer_id_of(credential)} is not a registered issuer")
    if "validFrom" not in credential:
        raise IssuanceError("credential_invalid", "credential.validFrom is required")
    return await sign(credential, issuer=issuer, repo=repo, ctx=ctx)


async def sign(
    document: dict[str, Any],
    *,
    issuer: StoredIssuer,
    repo: IssuanceStore,
    ctx: IssuanceContext,
    created: datetime | None = None,
) -> dict[str, Any]:
    """Add the issuer's proof with its active key (`sign_with`)."""
    signer = await signer_for(issuer.profile.issuer_id, repo=repo, ctx=ctx)
    return sign_with(document, signer, issuer.profile.cryptosuite, created=created)


def sign_with(
    document: dict[str, Any], signer: Ed25519Signer, cryptosuite: str, *, created: datetime | None = None
) -> dict[str, Any]:
    """Check a credential that claims credstream's profile (an OpenBadgeCredential or one naming
    the profile's schema) against it, then add the proof. Other credentials (e.g. the revocation
    service's BitstringStatusListCredentials) are signed as given."""
    problems = validate_profile(document) if claims_profile(document) else []
    if problems:
        raise IssuanceError("profile_invalid", "; ".join(problems[:5]))
    try:
        return create_proof(document, signer=signer, cryptosuite=cryptosuite, created=created)
    except ProofError as error:
        raise IssuanceError(error.code.lower(), error.message) from error


async def release_waiting_for_indexes(
    issuer_id: str, *, repo: IssuanceStore, ctx: IssuanceContext
) -> list[str]:
    """Retry the issuer's awards that waited for status list indexes (a block just arrived); awards
    parked for other reasons wait for their own release. Returns the credentials issued now."""
    return await issue_awards(
        await repo.parked_requests(issuer_id=issuer_id, reason=WAITING_FOR_INDEXES), repo=repo, ctx=ctx
    )
