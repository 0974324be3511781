"""Every SQL statement of the QA service. Built on a connection; the caller owns the transaction
(so an attestation's state, its history row and its outbox row commit together)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from services.qa.domain import Agency, Attestation, QaRejected, Remit, Scope


def _agency(row: asyncpg.Record) -> Agency:
    return Agency(
        agency_id=row["agency_id"],
        did=row["did"],
        name=row["name"],
        country_code=row["country_code"],
        deqar_id=row["deqar_id"],
        standards=list(row["standards"]),
        public_keys=list(row["public_keys"]),
        remit=Remit.model_validate(row["remit"]),
        status=row["status"],
    )


def _attestation(row: asyncpg.Record) -> Attestation:
    return Attestation(
        attestation_id=row["attestation_id"],
        agency_id=row["agency_id"],
        subject_kind=row["subject_kind"],
        subject_id=row["subject_id"],
        decision=row["decision"],
        scope=Scope(**row["scope"]),
        standard=row["standard"],
        report_url=row["report_url"],
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        status=row["status"],
        endorsement_id=row["endorsement_id"],
        endorsement=row["endorsement"],
        withdrawn_at=row["withdrawn_at"],
    )


class QaRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    # agencies

    async def upsert_agency(self, agency: Agency) -> bool:
        """Insert or update an agency; True when it is new. QaRejected(did_registered) when
        another agency has the DID (unique: an endorsement's issuer names one agency)."""
        try:
            inserted = await self._upsert_agency(agency)
        except asyncpg.UniqueViolationError as error:
            raise QaRejected(
                "did_registered", f"{agency.did} is the DID of another agency in the register"
            ) from error
        return bool(inserted)

    async def _upsert_agency(self, agency: Agency) -> Any:
        return await self._conn.fetchval(
            """
            INSERT INTO agencies (agency_id, did, name, country_code, deqar_id, standards, public_keys,
                                  remit, status)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (agency_id) DO UPDATE SET
                did = EXCLUDED.did, name = EXCLUDED.name, country_code = EXCLUDED.country_code,
                deqar_id = EXCLUDED.deqar_id, standards = EXCLUDED.standards,
                public_keys = EXCLUDED.public_keys, remit = EXCLUDED.remit, status = EXCLUDED.status,
                updated_at = now()
            RETURNING (xmax = 0)
            """,
            agency.agency_id,
            agency.did,
            agency.name,
            agency.country_code,
            agency.deqar_id,
            agency.standards,
            agency.public_keys,
            agency.remit.model_dump(mode="json"),
            agency.status,
        )

    async def get_agency(self, agency_id: str) -> Agency | None:
        row = await self._conn.fetchrow("SELECT * FROM agencies WHERE agency_id = $1", agency_id)
        return _agency(row) if row else None

    async def list_agencies(self) -> list[Agency]:
        return [_agency(r) for r in await self._conn.fetch("SELECT * FROM agencies ORDER BY agency_id")]

    # attestations

    async def get_attestation(self, attestation_id: str, *, for_update: bool = False) -> Attestation | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(
            f"SELECT * FROM attestations WHERE attestation_id = $1{lock}", attestation_id
        )
        return _attestation(row) if row else None

    async def insert_attestation(self, a: Attestation) -> bool:
        inserted = await self._conn.fetchval(
            """
            INSERT INTO attestations (attestation_id, agency_id, subject_kind, subject_id, decision, scope,
                                      standard, report_url, valid_from, valid_until, status,
                                      endorsement_id, endorsement)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
            ON CONFLICT DO NOTHING RETURNING true
            """,
            a.attestation_id, a.agency_id, a.subject_kind, a.subject_id, a.decision, a.scope.as_json(),
            a.standard, a.report_url, a.valid_from, a.valid_until, a.status, a.endorsement_id,
            a.endorsement,
        )  # fmt: skip
        return bool(inserted)

    async def update_attestation(self, a: Attestation) -> None:
        await self._conn.execute(
            """
            UPDATE attestations SET decision = $2, scope = $3, standard = $4, report_url = $5,
                valid_from = $6, valid_until = $7, status = $8, endorsement_id = $9, endorsement = $10,
                withdrawn_at = $11, updated_at = now()
            WHERE attestation_id = $1
            """,
            a.attestation_id, a.decision, a.scope.as_json(), a.standard, a.report_url, a.valid_from,
            a.valid_until, a.status, a.endorsement_id, a.endorsement, a.withdrawn_at,
        )  # fmt: skip

    async def due_for_expiry(self, *, now: datetime, limit: int = 200) -> list[Attestation]:
        """Active attestations past their end, locked; SKIP LOCKED lets a second instance's sweep
        take other rows instead of waiting (and never expire one twice)."""
        rows = await self._conn.fetch(
            """
            SELECT * FROM attestations WHERE status = 'active' AND valid_until <= $1
            ORDER BY valid_until LIMIT $2 FOR UPDATE SKIP LOCKED
            """,
            now,
            limit,
        )
        return [_attestation(r) for r in rows]

    async def list_attestations(
        self, *, subject_kind: str | None, subject_id: str | None, agency_id: str | None, current: bool
    ) -> list[Attestation]:
        rows = await self._conn.fetch(
            """
            SELECT * FROM attestations
            WHERE ($1::text IS NULL OR subject_kind = $1) AND ($2::text IS NULL OR subject_id = $2)
              AND ($3::text IS NULL OR agency_id = $3)
              AND (NOT $4 OR (status = 'active' AND valid_from <= now()
                              AND (valid_until IS NULL OR valid_until > now())))
            ORDER BY subject_kind, subject_id, valid_from DESC LIMIT 1000
            """,
            subject_kind,
            subject_id,
            agency_id,
            current,
        )
        return [_attestation(r) for r in rows]

    async def add_history(
        self, *, attestation_id: str, action: str, endorsement: dict[str, Any] | None, occurred_at: datetime
    ) -> None:
        await self._conn.execute(
            """
            INSERT INTO attestation_history (attestation_id, action, endorsement_id, endorsement, occurred_at)
            VALUES ($1, $2, $3, $4, $5)
            """,
            attestation_id,
            action,
            endorsement.get("id") if endorsement else None,
            endorsement,
            occurred_at,
        )

    async def history(self, attestation_id: str) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            """
            SELECT action, endorsement_id, endorsement, occurred_at, recorded_at FROM attestation_history
            WHERE attestation_id = $1 ORDER BY id
            """,
            attestation_id,
        )
        return [dict(r) for r in rows]

    # subjects (from credstream.achievement.definitions.v1)

    async def upsert_achievement(
        self, *, achievement_id: str, issuer_id: str, revision: int, name: str, status: str
    ) -> None:
        """Keep the newest revision only (the topic is compacted and may replay older ones)."""
        await self._conn.execute(
            """
            INSERT INTO known_achievements (achievement_id, issuer_id, revision, name, status)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (achievement_id) DO UPDATE SET
                issuer_id = EXCLUDED.issuer_id, revision = EXCLUDED.revision, name = EXCLUDED.name,
                status = EXCLUDED.status, updated_at = now()
            WHERE known_achievements.revision < EXCLUDED.revision
            """,
            achievement_id, issuer_id, revision, name, status,
        )  # fmt: skip

    async def known_achievements(
        self, *, achievement_id: str | None = None, issuer_id: str | None = None
    ) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            """
            SELECT achievement_id, issuer_id, revision, name, status FROM known_achievements
            WHERE ($1::text IS NULL OR achievement_id = $1) AND ($2::text IS NULL OR issuer_id = $2)
            ORDER BY achievement_id
            """,
            achievement_id,
            issuer_id,
        )
        return [dict(r) for r in rows]

    # audit

    async def audit(
        self,
        *,
        source: str,
        event_id: str,
        agency_id: str | None,
        action: str | None,
        endorsement_id: str | None,
        outcome: str,
        reason: str | None = None,
        message: str | None = None,
    ) -> None:
        await self._conn.execute(
            """
            INSERT INTO submission_audit (source, event_id, agency_id, action, endorsement_id, outcome,
                                          reason, message)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING
            """,
            source, event_id, agency_id, action, endorsement_id, outcome, reason, message,
        )  # fmt: skip

    async def list_audit(
        self, *, outcome: str | None, agency_id: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            """
            SELECT source, event_id, agency_id, action, endorsement_id, outcome, reason, message, received_at
            FROM submission_audit
            WHERE ($1::text IS NULL OR outcome = $1) AND ($3::text IS NULL OR agency_id = $3)
            ORDER BY id DESC LIMIT $2
            """,
            outcome,
            limit,
            agency_id,
        )
        return [dict(r) for r in rows]
