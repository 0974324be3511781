"""`credstream issue`: award achievements to learners, one or a CSV batch.

Awards are published as `achievement.earned` events on `credstream.achievement.earned.v1`, the
same fact the assessment service emits when a learner meets the criteria, so a CLI award takes the
one issuance path every award takes (QA gating, status list entries, `credential.issued`, parking
with a reason), rather than the VC-API `POST /credentials/issue`, which signs a credential the
caller builds. The earned id follows the assessment service's rule (issuer, achievement, learner,
award), so re-running a batch, or awarding what an LMS result already earned, issues nothing twice.
The CLI then waits for each credential (its id derives from the earned id) or its parked reason.
"""

from __future__ import annotations

import asyncio
import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

# The id rules belong to the services; using their functions keeps the CLI from drifting.
from contracts.ids import credential_id as derive_credential_id
from contracts.ids import earned_id as derive_earned_id
from contracts.topics import ACHIEVEMENTS_EARNED
from contracts.v1.assessment import AchievementEarned, LearnerRef
from deploy.cli.achievements import list_achievements
from deploy.cli.endpoints import Endpoints, service
from deploy.cli.errors import UsageError
from deploy.cli.streams import producer
from deploy.tools.publish import publish_event

SOURCE = "urn:credstream:cli"
CSV_COLUMNS = ("issuer_id", "achievement_id", "learner_id")


@dataclass
class AwardRow:
    """One award to make, and what became of it."""

    line: int
    issuer_id: str
    achievement_id: str
    learner_id: str
    email: str | None = None
    name: str | None = None
    award: int = 1
    outcome: str = "pending"  # invalid | published | issued | parked | timed_out
    detail: str = ""
    credential_id: str | None = None

    @property
    def earned_id(self) -> str:
        return derive_earned_id(
            issuer_id=self.issuer_id,
            achievement_id=self.achievement_id,
            learner_id=self.learner_id,
            award=self.award,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "issuer_id": self.issuer_id,
            "achievement_id": self.achievement_id,
            "learner_id": self.learner_id,
            "outcome": self.outcome,
            "detail": self.detail,
            "credential_id": self.credential_id,
        }


def read_csv(path: Path) -> list[AwardRow]:
    """Rows of `issuer_id,achievement_id,learner_id[,email,name,award]` (a header line first)."""
    try:
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise UsageError(f"{path}: the header lacks the column(s) {', '.join(missing)}")
            rows = []
            for n, raw in enumerate(reader, start=2):
                row = AwardRow(
                    line=n,
                    issuer_id=(raw.get("issuer_id") or "").strip(),
                    achievement_id=(raw.get("achievement_id") or "").strip(),
                    learner_id=(raw.get("learner_id") or "").strip(),
                    email=(raw.get("email") or "").strip() or None,
                    name=(raw.get("name") or "").strip() or None,
                )
                award = (raw.get("award") or "").strip()
                if award:
                    if not award.isdigit() or int(award) < 1:
                        row.outcome, row.detail = "invalid", f"award {award!r} is not a positive integer"
                    else:
                        row.award = int(award)
                rows.append(row)
    except OSError as error:
        raise UsageError(f"{path}: {error}") from error
    return rows


def _event(row: AwardRow, revision: int) -> AchievementEarned:
    return AchievementEarned(
        earned_id=row.earned_id,
        issuer_id=row.issuer_id,
        achievement_id=row.achievement_id,
        achievement_revision=revision,
        award=row.award,
        learner=LearnerRef(id=row.learner_id, email=row.email, name=row.name),
        earned_at=datetime.now(UTC),
        evidence=[],
    )


async def validate(endpoints: Endpoints, rows: list[AwardRow]) -> dict[str, int]:
    """Mark rows that cannot become an award; returns the revision of each known achievement."""
    known = {a["achievement_id"]: a for a in await list_achievements(endpoints)}
    revisions: dict[str, int] = {}
    for row in rows:
        if row.outcome == "invalid":
            continue
        empty = [c for c in CSV_COLUMNS if not getattr(row, c)]
        achievement = known.get(row.achievement_id)
        if empty:
            row.outcome, row.detail = "invalid", f"empty {', '.join(empty)}"
        elif achievement is None:
            row.outcome, row.detail = "invalid", f"no achievement {row.achievement_id}"
        elif achievement["issuer_id"] != row.issuer_id:
            row.outcome, row.detail = "invalid", f"{row.achievement_id} belongs to {achievement['issuer_id']}"
        elif achievement.get("status", "active") != "active":
            row.outcome, row.detail = "invalid", f"{row.achievement_id} is {achievement['status']}"
        else:
            try:
                _event(row, achievement["revision"])
            except ValidationError as error:
                row.outcome = "invalid"
                row.detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            else:
                revisions[row.achievement_id] = achievement["revision"]
    return revisions


async def publish(
    endpoints: Endpoints, rows: list[AwardRow], revisions: dict[str, int], advance: Any
) -> None:
    async with producer(endpoints.operator_kafka()) as client:
        for row in rows:
            if row.outcome == "invalid":
                continue
            await publish_event(
                client,
                ACHIEVEMENTS_EARNED,
                _event(row, revisions[row.achievement_id]),
                key=row.earned_id,
                source=SOURCE,
                event_id=row.earned_id,  # a re-run is the same event: the inbox drops it
                subject=row.learner_id,
            )
            row.outcome = "published"
            advance(1)


async def await_credentials(
    endpoints: Endpoints, rows: list[AwardRow], *, within_s: float, advance: Any
) -> None:
    """Wait until each published award is a stored credential or parked with a reason."""
    waiting = [r for r in rows if r.outcome == "published"]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    async with service(endpoints, "issuance") as client:
        while waiting and loop.time() < deadline:
            parked: dict[str, str] = {}
            for issuer_id in {r.issuer_id for r in waiting}:
                response = await client.get(
                    f"/admin/issuers/{issuer_id}/requests", params={"state": "parked"}
                )
                if response.is_success:
                    parked |= {p["earned_id"]: p.get("reason") or "" for p in response.json()}
            for row in list(waiting):
                credential = derive_credential_id(row.earned_id)
                if (await client.get(f"/credentials/{credential}")).status_code == 200:
                    row.outcome, row.credential_id = "issued", credential
                elif row.earned_id in parked:
                    row.outcome, row.detail = "parked", parked[row.earned_id]
                else:
                    continue
                waiting.remove(row)
                advance(1)
            if waiting:
                await asyncio.sleep(0.3)
    for row in waiting:
        row.outcome, row.detail = "timed_out", f"no credential after {within_s:.0f} s"
