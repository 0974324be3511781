"""Identifiers every producer derives the same way, so one fact has one identity wherever it is
derived: an award's earned id (assessment, the CLI's awards, any LMS that awards directly) and
the credential id issued for it (issuance, and anyone who wants to find the credential of an
award). They are part of the contract: changing one would make a re-derived fact a new one."""

from __future__ import annotations

import uuid

# Namespace for earned ids (uuid5): the same learner + achievement + award always maps to the
# same id, so the fact has one identity wherever it is re-derived.
EARNED_NAMESPACE = uuid.UUID("6f1d9a2e-3c4b-5d6e-8f70-112233445566")


def earned_id(*, issuer_id: str, achievement_id: str, learner_id: str, award: int = 1) -> str:
    """The deterministic id of one award of one achievement to one learner (the
    `achievement.earned` event's id, and its key)."""
    name = "\x1f".join((issuer_id, achievement_id, learner_id, str(award)))
    return f"urn:uuid:{uuid.uuid5(EARNED_NAMESPACE, name)}"


def credential_id(earned_id: str) -> str:
    """The id of the credential issued for an award, so a retried issue names the same
    credential and the database refuses a second one."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'credstream:credential:' + earned_id)}"
