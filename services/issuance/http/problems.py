"""What the issuance routes share: the problem for an `IssuanceError`."""

from __future__ import annotations

from services.issuance.domain import IssuanceError
from services.runtime.http import Problem

_STATUS = {
    "credential_invalid": 400,
    "issuer_unknown": 404,
    "achievement_unknown": 404,
    "achievement_owned_elsewhere": 409,
    "issuer_has_no_key": 409,
    "issuer_not_ours": 422,
    "profile_invalid": 422,
}


def problem_of(error: IssuanceError) -> Problem:
    """The problem+json answer for a refusal: its status by reason (422 by default)."""
    status = _STATUS.get(error.reason, 422)
    return Problem(status, error.reason.replace("_", " ").capitalize(), error.message, reason=error.reason)
