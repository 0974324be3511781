"""xAPI statements (xAPI 1.0.3, IEEE 9274.1.1-2023 "xAPI 2.0") -> assessment results.

What is read (xAPI-Data.md, section 2.4):
- `actor`: an Agent, or an identified Group, with *exactly one* inverse functional identifier:
  `mbox` (a `mailto:` IRI), `mbox_sha1sum` (40 hex digits), `openid` (a URI) or `account`
  (`homePage` and `name`, both required). It becomes the LMS identity key `mailto:...`,
  `mbox_sha1sum:<hex>`, `openid:<uri>` or `account:<homePage>|<name>`, mapped per LMS.
- `verb.id`: one of the ADL verbs below; anything else is refused (`verb_unsupported`), since
  credstream is not an LRS and keeps assessment outcomes only.
- `object`: an Activity (`objectType` absent or "Activity") whose `id` IRI is the activity.
- `result.success`, `result.completion`, `result.score` (`scaled` in [-1, 1]; else `raw`
  within `min`..`max`, `max` required to scale). `passed` implies success, `failed` failure;
  a `result.success` that contradicts the verb is refused.
- `id` (a UUID) is the deduplication key; a statement without one gets a UUID derived from its
  content, so re-sending the same statement is still one result.
- `timestamp` (else `stored`, else the receipt time) is when the learner was assessed.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from contracts.v1.assessment import AssessmentResultSubmitted, LearnerRef, Score
from services.assessment.adapters.common import (
    Normalised,
    canonical,
    derived_id,
    flag,
    iri,
    number,
    obj,
    reject,
    req_text,
    timestamp,
)
from services.assessment.lms import LmsProfile

ADL = "http://adlnet.gov/expapi/verbs/"
PASSED, FAILED, COMPLETED, SCORED = (ADL + v for v in ("passed", "failed", "completed", "scored"))
VERBS = (PASSED, FAILED, COMPLETED, SCORED)
IFIS = ("mbox", "mbox_sha1sum", "openid", "account")
SUPPORTED_VERSIONS = re.compile(r"^(1\.0(\.[0-9]+)?|2\.0(\.[0-9]+)?)$")
_SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")
_EMAIL = re.compile(r"^mailto:([^@\s]+@[^@\s]+)$")


def statement_to_result(
    statement: Any, lms: LmsProfile, *, received_at: datetime, raw: bytes | None = None
) -> Normalised:
    """Normalise one statement for `lms`; raises IngestRejected with the reason."""
    st = obj(statement, "statement")
    version = st.get("version")
    if version is not None and (not isinstance(version, str) or not SUPPORTED_VERSIONS.match(version)):
        raise reject("version_unsupported", f"statement version {version!r} is not 1.0.x or 2.0.x")
    statement_id = _statement_id(st)
    key, email = _identity(obj(st.get("actor"), "actor"))
    verb = iri(obj(st.get("verb"), "verb").get("id"), "verb.id")
    if verb not in VERBS:
        raise reject("verb_unsupported", f"verb {verb[:200]!r} is not one of {', '.join(VERBS)}")
    target = obj(st.get("object"), "object")
    object_type = target.get("objectType", "Activity")
    if object_type != "Activity":
        raise reject("object_not_activity", f"object.objectType is {str(object_type)[:40]!r}, not Activity")
    activity = iri(target.get("id"), "object.id")
    result = obj(st["result"], "result") if st.get("result") is not None else {}
    success = flag(result.get("success"), "result.success")
    completion = flag(result.get("completion"), "result.completion")
    if verb == PASSED:
        if success is False:
            raise reject("result_contradicts_verb", "verb passed with result.success = false")
        success = True
    elif verb == FAILED:
        if success is True:
            raise reject("result_contradicts_verb", "verb failed with result.success = true")
        success = False
    elif verb == COMPLETED and completion is None:
        completion = True
    score = _score(result.get("score"))
    if verb == SCORED and score is None:
        raise reject("missing_field", "verb scored needs result.score")
    occurred = timestamp(
        st.get("timestamp"), "timestamp", default=timestamp(st.get("stored"), "stored", default=received_at)
    )
    try:
        submitted = AssessmentResultSubmitted(
            result_id=f"xapi:{statement_id}",
            issuer_id=lms.issuer_id,
            learner=LearnerRef(id=lms.learner_id(key), email=email),
            activity_id=lms.activity_id(activity),
            score=score,
            success=success,
            completion=completion,
            occurred_at=occurred,
        )
    except ValidationError as exc:
        raise reject("invalid_value", f"statement: {exc.errors()[0]['msg']}") from None
    return Normalised(submitted, raw if raw is not None else canonical(st), "xapi")


def _statement_id(st: dict[str, Any]) -> str:
    given = st.get("id")
    if given is None:
        return derived_id("xapi", canonical(st).decode())
    if not isinstance(given, str):
        raise reject("wrong_type", "id must be a UUID string")
    try:
        return str(uuid.UUID(given))
    except ValueError:
        raise reject("invalid_value", f"id {given[:60]!r} is not a UUID") from None


def _identity(actor: dict[str, Any]) -> tuple[str, str | None]:
    """The LMS identity key of an Agent or identified Group, and its e-mail when it shows one."""
    present = [name for name in IFIS if actor.get(name) is not None]
    if len(present) != 1:
        found = ", ".join(present) or "none"
        raise reject(
            "actor_identifier_invalid",
            f"actor needs exactly one inverse functional identifier of {', '.join(IFIS)} (found: {found})",
        )
    name = present[0]
    if name == "mbox":
        mbox = req_text(actor["mbox"], "actor.mbox")
        match = _EMAIL.match(mbox)
        if not match:
            raise reject("invalid_value", "actor.mbox must be a mailto: IRI with an e-mail address")
        return mbox.lower(), match.group(1)
    if name == "mbox_sha1sum":
        digest = req_text(actor["mbox_sha1sum"], "actor.mbox_sha1sum")
        if not _SHA1.match(digest):
            raise reject("invalid_value", "actor.mbox_sha1sum must be 40 hexadecimal digits")
        return f"mbox_sha1sum:{digest.lower()}", None
    if name == "openid":
        return f"openid:{iri(actor['openid'], 'actor.openid')}", None
    account = obj(actor["account"], "actor.account")
    home = iri(account.get("homePage"), "actor.account.homePage")
    return f"account:{home}|{req_text(account.get('name'), 'actor.account.name')}", None


def _score(value: Any) -> Score | None:
    if value is None:
        return None
    score = obj(value, "result.score")
    fields = {k: number(score.get(k), f"result.score.{k}") for k in ("scaled", "raw", "min", "max")}
    if fields["scaled"] is None and fields["raw"] is None:
        raise reject("missing_field", "result.score needs scaled, or raw with max")
    try:
        return Score(**fields)
    except ValidationError as exc:
        raise reject(
            "score_invalid", f"result.score: {exc.errors()[0]['msg'].removeprefix('Value error, ')}"
        ) from None
