"""Events of the assessment service: results in, achievements defined and earned."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.base import AwareDatetime, Event, Identifier


class LearnerRef(BaseModel):
    """Who the result is about, as the provider knows them.

    `id` is the provider's (or LMS's) stable learner reference. `email` is optional and stays
    inside the provider's own services: it never appears on streams that agencies read.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: Identifier
    email: Annotated[str, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    name: Annotated[str, Field(max_length=512)] | None = None
    did: Annotated[str, Field(max_length=512, pattern=r"^did:[a-z0-9]+:.+$")] | None = None


class Score(BaseModel):
    """A score in the xAPI sense: `scaled` in [-1, 1], or raw within [min, max]."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    scaled: Annotated[float, Field(ge=-1.0, le=1.0, allow_inf_nan=False)] | None = None
    raw: Annotated[float, Field(allow_inf_nan=False)] | None = None
    min: Annotated[float, Field(allow_inf_nan=False)] | None = None
    max: Annotated[float, Field(allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Score:
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError("score.min must be below score.max")
        if self.raw is not None:
            if self.min is not None and self.raw < self.min:
                raise ValueError("score.raw is below score.min")
            if self.max is not None and self.raw > self.max:
                raise ValueError("score.raw is above score.max")
        if self.scaled is None and (self.raw is None or self.max is None):
            raise ValueError("a score needs `scaled`, or `raw` with `max`")
        return self

    def normalised(self) -> float:
        """The score scaled to [-1, 1]: `scaled` when given, else raw within [min (0), max]."""
        if self.scaled is not None:
            return self.scaled
        assert self.raw is not None and self.max is not None
        low = self.min if self.min is not None else 0.0
        return max(-1.0, min(1.0, (self.raw - low) / (self.max - low)))


class AssessmentResultSubmitted(Event):
    """An LMS reports one assessment result of one learner on one activity (credstream's own
    contract; xAPI, Caliper and LTI payloads are normalised to the same fields)."""

    event_type = "credstream.assessment.result.submitted"

    result_id: Identifier = Field(
        description="The LMS's id of this result; unique per issuer. Re-sending it is a no-op."
    )
    issuer_id: Identifier = Field(description="The education provider (tenant) the LMS serves.")
    learner: LearnerRef
    activity_id: Identifier = Field(description="The assessed activity (an IRI or LMS id).")
    score: Score | None = None
    success: bool | None = Field(default=None, description="Passed (true) or failed (false).")
    completion: bool | None = None
    attempt: Annotated[int, Field(ge=1, le=10_000)] | None = None
    occurred_at: AwareDatetime = Field(description="When the learner was assessed.")


class AchievementCriteria(BaseModel):
    """What a learner must show to earn an achievement. Every condition must be met."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    required_activity_ids: Annotated[list[Identifier], Field(min_length=1, max_length=200)]
    min_scaled_score: Annotated[float, Field(ge=-1.0, le=1.0, allow_inf_nan=False)] | None = Field(
        default=None,
        description="Each required activity needs a result whose normalised score reaches this.",
    )
    require_success: bool = Field(
        default=False,
        description="Each required activity needs a result that reports success = true.",
    )


class AchievementDefined(Event):
    """The definition of an achievement (a micro-credential specification), as far as
    assessment needs it. Published by the issuance service, which owns achievement definitions
    (micro-credential specifications); the newest `revision` wins."""

    event_type = "credstream.achievement.defined"

    achievement_id: Identifier
    issuer_id: Identifier
    revision: Annotated[int, Field(ge=1)]
    name: Annotated[str, Field(min_length=1, max_length=512)]
    criteria: AchievementCriteria
    status: Literal["active", "retired"] = "active"


class EvidenceRef(BaseModel):
    """One stored result that counted towards an earned achievement."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    result_id: Identifier
    activity_id: Identifier
    score_scaled: float | None = None
    success: bool | None = None
    occurred_at: AwareDatetime


class AchievementEarned(Event):
    """A learner met an achievement's criteria. Emitted exactly once per (issuer, learner,
    achievement, award); `earned_id` is derived from those, so any re-emission is recognisably
    the same fact."""

    event_type = "credstream.achievement.earned"

    earned_id: Identifier
    issuer_id: Identifier
    achievement_id: Identifier
    achievement_revision: Annotated[int, Field(ge=1)]
    award: Annotated[int, Field(ge=1)] = 1
    learner: LearnerRef
    earned_at: AwareDatetime
    evidence: list[EvidenceRef]
