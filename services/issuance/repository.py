"""Every SQL statement of the issuance service. Built on a connection; the caller owns the
transaction (so a credential and its outbox row always commit together)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.issuance.assurance import QaAttestation
from services.issuance.domain import Award, IssuerProfile, Learner, MicroCredentialSpec


@dataclass(frozen=True, slots=True)
class StoredIssuer:
    profile: IssuerProfile
    did: str


@dataclass(frozen=True, slots=True)
class StoredKey:
    key_id: str
    issuer_id: str
    public_multibase: str
    sealed_secret: bytes
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredAchievement:
    spec: MicroCredentialSpec
    revision: int


@dataclass(frozen=True, slots=True)
class StoredCredential:
    credential_id: str
    issuer_id: str
    achievement_id: str
    learner_id: str
    award: int
    earned_id: str | None
    document: dict[str, Any]
    issued_at: datetime
    qa_attestation_id: str | None = None


def _qa(row: asyncpg.Record) -> QaAttestation:
    return QaAttestation(**{k: v for k, v in dict(row).items() if k not in ("endorsement", "updated_at")})


def _issuer(row: asyncpg.Record) -> StoredIssuer:
    profile = IssuerProfile.model_validate(
        {
            key: row[key]
            for key in (
                "issuer_id",
                "name",
                "url",
                "email",
                "country_code",
                "region",
                "cryptosuite",
                "qa_policy",
                "withdrawal_policy",
            )
            if row[key] is not None
        }
    )
    return StoredIssuer(profile, row["did"])


class IssuanceRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    # issuers and keys

    async def upsert_issuer(self, *, profile: IssuerProfile, did: str) -> bool:
        """Insert or update an issuer; True when it is new."""
        inserted = await self._conn.fetchval(
            """
            INSERT INTO issuers (issuer_id, did, name, url, email, country_code, region, cryptosuite,
                                 qa_policy, withdrawal_policy)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (issuer_id) DO UPDATE SET
                name = EXCLUDED.name, url = EXCLUDED.url, email = EXCLUDED.email,
                country_code = EXCLUDED.country_code, region = EXCLUDED.region,
                cryptosuite = EXCLUDED.cryptosuite, qa_policy = EXCLUDED.qa_policy,
                withdrawal_policy = EXCLUDED.withdrawal_policy, updated_at = now()
            RETURNING (xmax = 0)
            """,
            profile.issuer_id,
            did,
            profile.name,
            str(profile.url) if profile.url else None,
            profile.email,
            profile.country_code,
            profile.region,
            profile.cryptosuite,
            profile.qa_policy,
            profile.withdrawal_policy,
        )
        return bool(inserted)

    async def get_issuer(self, issuer_id: str) -> StoredIssuer | None:
        row = await self._conn.fetchrow("SELECT * FROM issuers WHERE issuer_id = $1", issuer_id)
        return _issuer(row) if row else None

    async def list_issuers(self) -> list[StoredIssuer]:
        return [_issuer(row) for row in await self._conn.fetch("SELECT * FROM issuers ORDER BY issuer_id")]

    async def lock_issuer(self, issuer_id: str) -> None:
        """Serialise key changes of one issuer (rotation against rotation)."""
        await self._conn.execute("SELECT 1 FROM issuers WHERE issuer_id = $1 FOR UPDATE", issuer_id)

    async def add_key(self, *, key_id: str, issuer_id: str, public_multibase: str, sealed: bytes) -> None:
        await self._conn.execute(
            """
            UPDATE issuer_keys SET status = 'retired', retired_at = now()
            WHERE issuer_id = $1 AND status = 'active'
            """,
            issuer_id,
        )
        await self._conn.execute(
            """
            INSERT INTO issuer_keys (key_id, issuer_id, public_multibase, sealed_secret, status)
            VALUES ($1, $2, $3, $4, 'active')
            """,
            key_id,
            issuer_id,
            public_multibase,
            sealed,
        )

    async def sealed_keys_for_update(self) -> list[tuple[str, bytes]]:
        """Every stored private key, locked until the transaction ends (KEK rotation)."""
        rows = await self._conn.fetch(
            "SELECT key_id, sealed_secret FROM issuer_keys ORDER BY key_id FOR UPDATE"
        )
        return [(r["key_id"], bytes(r["sealed_secret"])) for r in rows]

    async def replace_sealed_key(self, *, key_id: str, sealed: bytes) -> None:
        await self._conn.execute(
            "UPDATE issuer_keys SET sealed_secret = $2 WHERE key_id = $1", key_id, sealed
        )

    async def keys_of(self, issuer_id: str) -> list[StoredKey]:
        rows = await self._conn.fetch(
            """
            SELECT key_id, issuer_id, public_multibase, sealed_secret, status, created_at
            FROM issuer_keys WHERE issuer_id = $1 ORDER BY created_at, key_id
            """,
            issuer_id,
        )
        return [StoredKey(**dict(row)) for row in rows]

    async def active_key(self, issuer_id: str) -> StoredKey | None:
        row = await self._conn.fetchrow(
            """
            SELECT key_id, issuer_id, public_multibase, sealed_secret, status, created_at
            FROM issuer_keys WHERE issuer_id = $1 AND status = 'active'
            """,
            issuer_id,
        )
        return StoredKey(**dict(row)) if row else None

    # achievements

    async def upsert_achievement(self, spec: MicroCredentialSpec) -> tuple[int, bool]:
        """Store a specification; a changed one gets the next revision. Returns (revision, changed)."""
        document = spec.model_dump(mode="json")
        row = await self._conn.fetchrow(
            "SELECT revision, spec FROM achievements WHERE achievement_id = $1 FOR UPDATE",
            spec.achievement_id,
        )
        if row is not None and row["spec"] == document:
            return int(row["revision"]), False
        revision = 1 if row is None else int(row["revision"]) + 1
        await self._conn.execute(
            """
            INSERT INTO achievements (achievement_id, issuer_id, revision, status, spec)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (achievement_id) DO UPDATE SET
                revision = EXCLUDED.revision, status = EXCLUDED.status, spec = EXCLUDED.spec,
                updated_at = now()
            """,
            spec.achievement_id,
            spec.issuer_id,
            revision,
            spec.status,
            document,
        )
        return revision, True

    async def get_achievement(self, achievement_id: str) -> StoredAchievement | None:
        row = await self._conn.fetchrow(
            "SELECT spec, revision FROM achievements WHERE achievement_id = $1", achievement_id
        )
        if row is None:
            return None
        return StoredAchievement(MicroCredentialSpec.model_validate(row["spec"]), int(row["revision"]))

    async def list_achievements(self, issuer_id: str | None = None) -> list[StoredAchievement]:
        rows = await self._conn.fetch(
            """
            SELECT spec, revision FROM achievements
            WHERE $1::text IS NULL OR issuer_id = $1 ORDER BY achievement_id
            """,
            issuer_id,
        )
        return [
            StoredAchievement(MicroCredentialSpec.model_validate(r["spec"]), int(r["revision"])) for r in rows
        ]

    # issuance requests (earned facts) and credentials

    async def record_requests(self, awards: Sequence[Award], *, state: str, reason: str | None) -> None:
        """Record (or move) each award's request to `state`, in one pipelined statement."""
        await self._conn.executemany(
            """
            INSERT INTO issuance_requests
                (earned_id, issuer_id, achievement_id, learner_id, award, payload, state, reason)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (earned_id) DO UPDATE SET
                state = EXCLUDED.state, reason = EXCLUDED.reason, updated_at = now()
            """,
            [
                (
                    award.earned_id,
                    award.issuer_id,
                    award.achievement_id,
                    award.learner.learner_id,
                    award.award,
                    {
                        "learner": {
                            "learner_id": award.learner.learner_id,
                            "email": award.learner.email,
                            "name": award.learner.name,
                            "did": award.learner.did,
                        },
                        "earned_at": award.earned_at.isoformat(),
                    },
                    state,
                    reason,
                )
                for award in awards
            ],
        )

    async def parked_requests(
        self, *, issuer_id: str, achievement_id: str | None = None, reason: str | None = None
    ) -> list[Award]:
        rows = await self._conn.fetch(
            """
            SELECT earned_id, issuer_id, achievement_id, award, payload FROM issuance_requests
            WHERE state = 'parked' AND issuer_id = $1 AND ($2::text IS NULL OR achievement_id = $2)
              AND ($3::text IS NULL OR reason = $3)
            ORDER BY received_at
            FOR UPDATE SKIP LOCKED
            """,
            issuer_id,
            achievement_id,
            reason,
        )
        return [
            Award(
                earned_id=row["earned_id"],
                issuer_id=row["issuer_id"],
                achievement_id=row["achievement_id"],
                award=row["award"],
                learner=Learner(**row["payload"]["learner"]),
                earned_at=datetime.fromisoformat(row["payload"]["earned_at"]),
            )
            for row in rows
        ]

    async def request_states(self, issuer_id: str, *, state: str | None = None) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            """
            SELECT earned_id, achievement_id, learner_id, award, state, reason, received_at, updated_at
            FROM issuance_requests WHERE issuer_id = $1 AND ($2::text IS NULL OR state = $2)
            ORDER BY received_at DESC LIMIT 500
            """,
            issuer_id,
            state,
        )
        return [dict(row) for row in rows]

    async def insert_credentials(
        self, credentials: Sequence[StoredCredential], *, learner_emails: Mapping[str | None, str | None]
    ) -> set[str]:
        """Store signed credentials (`learner_emails` by earned id); returns the ids stored. One
        whose (issuer, learner, achievement, award) already has a credential is not stored."""
        rows = await self._conn.fetch(
            """
            INSERT INTO credentials (credential_id, issuer_id, achievement_id, learner_id, learner_email,
                                     award, earned_id, document, issued_at, qa_attestation_id)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[],
                                 $7::text[], $8::jsonb[], $9::timestamptz[], $10::text[])
            ON CONFLICT DO NOTHING
            RETURNING credential_id
            """,
            [c.credential_id for c in credentials],
            [c.issuer_id for c in credentials],
            [c.achievement_id for c in credentials],
            [c.learner_id for c in credentials],
            [learner_emails.get(c.earned_id) for c in credentials],
            [c.award for c in credentials],
            [c.earned_id for c in credentials],
            [c.document for c in credentials],
            [c.issued_at for c in credentials],
            [c.qa_attestation_id for c in credentials],
        )  # fmt: skip
        return {row["credential_id"] for row in rows}

    async def get_credential(self, credential_id: str) -> StoredCredential | None:
        row = await self._conn.fetchrow(
            """
            SELECT credential_id, issuer_id, achievement_id, learner_id, award, earned_id, document,
                   issued_at, qa_attestation_id
            FROM credentials WHERE credential_id = $1
            """,
            credential_id,
        )
        return StoredCredential(**dict(row)) if row else None

    async def count_credentials(self, *, issuer_id: str, learner_id: str, achievement_id: str) -> int:
        count = await self._conn.fetchval(
            """
            SELECT count(*) FROM credentials
            WHERE issuer_id = $1 AND learner_id = $2 AND achievement_id = $3
            """,
            issuer_id,
            learner_id,
            achievement_id,
        )
        return int(count)

    # QA view (from credstream.qa.attestations.v1)

    async def apply_qa_fact(
        self, kind: str, attestation: QaAttestation, endorsement: dict[str, Any] | None
    ) -> None:
        """Apply one attestation fact. Withdrawn and expired are final: a late `granted` or
        `renewed` never revives them (the WHERE of the upsert)."""
        a = attestation
        await self._conn.execute(
            """
            INSERT INTO qa_attestations (attestation_id, agency_id, agency_did, agency_name, subject_kind,
                subject_id, decision, scope, standard, report_url, valid_from, valid_until, status,
                withdrawn_at, endorsement_id, endorsement)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
            ON CONFLICT (attestation_id) DO UPDATE SET
                agency_did = EXCLUDED.agency_did, agency_name = EXCLUDED.agency_name,
                decision = EXCLUDED.decision, scope = EXCLUDED.scope, standard = EXCLUDED.standard,
                report_url = EXCLUDED.report_url, valid_from = EXCLUDED.valid_from,
                valid_until = EXCLUDED.valid_until, status = EXCLUDED.status,
                withdrawn_at = EXCLUDED.withdrawn_at, endorsement_id = EXCLUDED.endorsement_id,
                endorsement = COALESCE(EXCLUDED.endorsement, qa_attestations.endorsement), updated_at = now()
            WHERE qa_attestations.status = 'active'
               OR ($17 = 'withdrawn' AND qa_attestations.status = 'expired')
            """,
            a.attestation_id, a.agency_id, a.agency_did, a.agency_name, a.subject_kind, a.subject_id,
            a.decision, a.scope, a.standard, a.report_url, a.valid_from, a.valid_until, a.status,
            a.withdrawn_at, a.endorsement_id, endorsement, kind,
        )  # fmt: skip

    async def get_qa_attestation(self, attestation_id: str) -> QaAttestation | None:
        row = await self._conn.fetchrow(
            "SELECT * FROM qa_attestations WHERE attestation_id = $1", attestation_id
        )
        return _qa(row) if row else None

    async def qa_attestations_for(self, *, issuer_id: str, achievement_id: str) -> list[QaAttestation]:
        rows = await self._conn.fetch(
            """
            SELECT * FROM qa_attestations
            WHERE (subject_kind = 'issuer' AND subject_id = $1)
               OR (subject_kind = 'achievement' AND subject_id = $2)
            """,
            issuer_id,
            achievement_id,
        )
        return [_qa(r) for r in rows]

    async def credentials_relying_on(
        self, attestation_id: str, *, issued_since: datetime
    ) -> list[StoredCredential]:
        rows = await self._conn.fetch(
            """
            SELECT credential_id, issuer_id, achievement_id, learner_id, award, earned_id, document,
                   issued_at, qa_attestation_id
            FROM credentials WHERE qa_attestation_id = $1 AND issued_at >= $2 ORDER BY issued_at
            """,
            attestation_id,
            issued_since,
        )
        return [StoredCredential(**dict(row)) for row in rows]
