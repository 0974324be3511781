"""The LMS simulator's foreign formats: xAPI statements, Caliper envelopes and LTI AGS scores.

Each encoder writes the LMS's own JSON as the record value, with CloudEvents binary-mode headers
whose `ce_source` is the LMS's configured source (that is how the assessment service finds the
LMS, its issuer and its identity mapping; docs/assessment.md). Each also says what the platform
will read from a simulated result (`observed`: the learner reference derived from the LMS
identity, the scaled score as the adapter computes it, and `success` only where the format
reports one), so the simulator's expectation is computed from what is sent, not assumed.

- xAPI: an Agent identified by an `account` on the LMS (`homePage` = the LMS source, `name` =
  the learner), identity key `account:<homePage>|<name>`; verb passed or failed; `result.score.scaled`.
- Caliper 1.2: an envelope with one GradeEvent; the assignee is `<source>/users/<learner>`
  (the identity key); the Score has `scoreGiven` out of `maxScore` 100 and no success.
- LTI AGS 2.0: a FullyGraded score of the learner's LTI `sub` (identity key `lti:<sub>`), the
  line item (the activity) as `ce_subject`; `scoreGiven` out of `scoreMaximum` 100, no success.

Malformed variants are invalid JSON, a missing required field and a wrong type, each of which
the adapter refuses (the record is dead-lettered).
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts.envelope import CloudEventAttributes, Headers
from contracts.topics import LMS_CALIPER, LMS_LTI_SCORES, LMS_XAPI, Topic
from deploy.cli.simulator import (
    MALFORMED_KINDS,
    ContractEncoder,
    MalformedRecord,
    ResultEncoder,
    SimulatedResult,
)

FORMATS = ("credstream", "xapi", "caliper", "lti")
DEFAULT_LMS_CONFIG = Path(__file__).resolve().parents[1] / "config" / "lms.json"
ADL = "http://adlnet.gov/expapi/verbs/"
CALIPER_V1P2 = "http://purl.imsglobal.org/ctx/caliper/v1p2"
# uuid5 namespace of the ids the simulator derives (statement ids, Caliper event ids, LTI subs):
# the same simulated result always gives the same payload, so a duplicate is the same record.
_NAMESPACE = uuid.UUID("4d1f0c2a-9b7e-5a53-8c61-2e0f7b9d3a14")
MAXIMUM = 100.0


@dataclass(frozen=True)
class LmsTarget:
    """The configured LMS a simulated foreign stream comes from (one entry of lms.json)."""

    lms_id: str
    source: str
    issuer_id: str
    identities: dict[str, str] = field(default_factory=dict)

    def learner_ref(self, key: str) -> str:
        """The learner reference the platform derives from an LMS identity key (`use_key`)."""
        return self.identities.get(key, key)

    @classmethod
    def for_issuer(cls, config: Any, issuer_id: str) -> LmsTarget | None:
        """The first LMS of a configuration (lms.json's JSON) that reports for `issuer_id`."""
        entries = config.get("lms", []) if isinstance(config, dict) else []
        for entry in entries:
            if entry.get("issuer_id") == issuer_id:
                if entry.get("unmapped_identities", "use_key") != "use_key":
                    raise ValueError(f"LMS {entry['lms_id']} rejects unmapped identities")
                if entry.get("activities"):
                    raise ValueError(f"LMS {entry['lms_id']} maps activity ids, which the simulator does not")
                return cls(entry["lms_id"], entry["source"], issuer_id, dict(entry.get("identities") or {}))
        return None

    @classmethod
    def from_file(cls, path: Path, issuer_id: str) -> LmsTarget | None:
        return cls.for_issuer(json.loads(path.read_text()), issuer_id)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _given(score: float) -> float:
    return round(score * MAXIMUM, 2)


def _headers(topic: Topic, *, source: str, event_id: str, subject: str | None = None) -> Headers:
    return CloudEventAttributes(
        id=event_id, source=source, type=topic.events[0].event_type, time=datetime.now(UTC), subject=subject
    ).to_headers()


def _corrupt(kind: str, payload: dict[str, Any], drop: tuple[str, ...], retype: tuple[str, ...]) -> bytes:
    """A valid payload made invalid: cut off, without the field at `drop`, or with a string at `retype`."""
    if kind == "invalid_json":
        return json.dumps(payload).encode()[:-7]
    body = json.loads(json.dumps(payload))
    path = drop if kind == "missing_field" else retype
    target = body
    for step in path[:-1]:
        target = target[int(step)] if isinstance(target, list) else target[step]
    if kind == "missing_field":
        del target[path[-1]]
    else:
        target[path[-1]] = "ninety percent"
    return json.dumps(body).encode()


class _ForeignEncoder:
    format: str
    topic: str
    _drop: tuple[str, ...]
    _retype: tuple[str, ...]

    def __init__(self, lms: LmsTarget) -> None:
        self.lms = lms
        self.source: str | None = lms.source

    def identity_key(self, learner_id: str) -> str:
        raise NotImplementedError

    def payload(self, result: SimulatedResult) -> dict[str, Any]:
        raise NotImplementedError

    def learner_ref(self, learner_id: str) -> str:
        return self.lms.learner_ref(self.identity_key(learner_id))

    def observed(self, result: SimulatedResult) -> SimulatedResult:
        """The result as the adapter reads it: no success, score scaled from scoreGiven/100."""
        return replace(
            result,
            learner_id=self.learner_ref(result.learner_id),
            score=_given(result.score) / MAXIMUM,
            success=None,
            completion=None,
        )

    def encode(self, result: SimulatedResult, *, source: str, event_id: str) -> tuple[bytes, Headers]:
        headers = _headers(
            self._topic, source=self.lms.source, event_id=event_id, subject=self._subject(result)
        )
        return json.dumps(self.payload(result)).encode(), headers

    def encode_malformed(self, record: MalformedRecord, *, source: str, event_id: str) -> Headers:
        # Valid CloudEvents headers naming the LMS around a bad body: the adapter must refuse it.
        return _headers(
            self._topic, source=self.lms.source, event_id=event_id, subject=record.activity or None
        )

    def malformed_value(
        self, kind: str, rng: random.Random, *, issuer_id: str, learner_id: str, activity: str
    ) -> bytes:
        sample = SimulatedResult(
            result_id=f"{learner_id}-bad-{rng.randrange(10**9)}",
            issuer_id=issuer_id,
            learner_id=learner_id,
            email=f"{learner_id}@learners.example",
            activity_id=activity,
            score=0.9,
            success=True,
            attempt=1,
            occurred_at=datetime.now(UTC),
        )
        return _corrupt(kind, self.payload(sample), self._drop, self._retype)

    @property
    def _topic(self) -> Topic:
        raise NotImplementedError

    def _subject(self, result: SimulatedResult) -> str | None:
        return self.identity_key(result.learner_id)

    def _uuid(self, *parts: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, "|".join((self.format, self.lms.lms_id, *parts))))


class XapiEncoder(_ForeignEncoder):
    """One xAPI 1.0.3 statement per result on `credstream.lms.xapi.v1`."""

    format = "xapi"
    topic = LMS_XAPI.name
    _drop = ("actor",)
    _retype = ("result", "score", "scaled")

    @property
    def _topic(self) -> Topic:
        return LMS_XAPI

    def identity_key(self, learner_id: str) -> str:
        return f"account:{self.lms.source}|{learner_id}"

    def observed(self, result: SimulatedResult) -> SimulatedResult:
        return replace(result, learner_id=self.learner_ref(result.learner_id), email=None, completion=True)

    def payload(self, result: SimulatedResult) -> dict[str, Any]:
        verb = "passed" if result.success else "failed"
        return {
            "id": self._uuid(result.result_id),
            "actor": {
                "objectType": "Agent",
                "name": result.learner_id,
                "account": {"homePage": self.lms.source, "name": result.learner_id},
            },
            "verb": {"id": ADL + verb, "display": {"en-US": verb}},
            "object": {
                "objectType": "Activity",
                "id": result.activity_id,
                "definition": {"type": "http://adlnet.gov/expapi/activities/assessment"},
            },
            "result": {"score": {"scaled": result.score}, "success": result.success, "completion": True},
            "context": {"platform": "credstream LMS simulator", "language": "en-US"},
            "timestamp": _iso(result.occurred_at),
            "version": "1.0.3",
        }


class CaliperEncoder(_ForeignEncoder):
    """One Caliper 1.2 envelope with one GradeEvent per result on `credstream.lms.caliper.v1`."""

    format = "caliper"
    topic = LMS_CALIPER.name
    _drop = ("data", "0", "generated")
    _retype = ("data", "0", "generated", "scoreGiven")

    @property
    def _topic(self) -> Topic:
        return LMS_CALIPER

    def identity_key(self, learner_id: str) -> str:
        return f"{self.lms.source}/users/{learner_id}"

    def payload(self, result: SimulatedResult) -> dict[str, Any]:
        person = self.identity_key(result.learner_id)
        attempt = f"{result.activity_id}/users/{result.learner_id}/attempts/{result.attempt}"
        event = {
            "@context": CALIPER_V1P2,
            "id": f"urn:uuid:{self._uuid(result.result_id)}",
            "type": "GradeEvent",
            "actor": {"id": f"{self.lms.source}/autograder", "type": "SoftwareApplication"},
            "action": "Graded",
            "object": {
                "id": attempt,
                "type": "Attempt",
                "assignee": {"id": person, "type": "Person"},
                "assignable": {"id": result.activity_id, "type": "Assessment", "maxScore": MAXIMUM},
                "count": result.attempt,
            },
            "generated": {
                "id": f"{attempt}/scores/1",
                "type": "Score",
                "attempt": attempt,
                "scoreGiven": _given(result.score),
                "maxScore": MAXIMUM,
            },
            "eventTime": _iso(result.occurred_at),
            "edApp": {"id": self.lms.source, "type": "SoftwareApplication"},
        }
        return {
            "sensor": f"{self.lms.source}/sensors/simulator",
            "sendTime": _iso(result.occurred_at),
            "dataVersion": CALIPER_V1P2,
            "data": [event],
        }


class LtiEncoder(_ForeignEncoder):
    """One LTI AGS 2.0 score per result on `credstream.lms.lti-scores.v1`; the line item (the
    activity) is the record's `ce_subject`."""

    format = "lti"
    topic = LMS_LTI_SCORES.name
    _drop = ("userId",)
    _retype = ("scoreGiven",)

    @property
    def _topic(self) -> Topic:
        return LMS_LTI_SCORES

    def sub(self, learner_id: str) -> str:
        return self._uuid("sub", learner_id)

    def identity_key(self, learner_id: str) -> str:
        return f"lti:{self.sub(learner_id)}"

    def observed(self, result: SimulatedResult) -> SimulatedResult:
        return replace(super().observed(result), completion=True)  # activityProgress Completed

    def _subject(self, result: SimulatedResult) -> str | None:
        return result.activity_id

    def payload(self, result: SimulatedResult) -> dict[str, Any]:
        return {
            "timestamp": result.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "scoreGiven": _given(result.score),
            "scoreMaximum": MAXIMUM,
            "comment": "Graded by the LMS simulator",
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
            "userId": self.sub(result.learner_id),
        }


def encoders(formats: tuple[str, ...], lms: LmsTarget | None) -> list[ResultEncoder]:
    """The encoders of `formats` (names of FORMATS); the foreign ones need the LMS."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"unknown format(s) {', '.join(unknown) or '(none)'}; use {', '.join(FORMATS)}")
    made: list[ResultEncoder] = []
    for name in dict.fromkeys(formats):
        if name == "credstream":
            made.append(ContractEncoder())
            continue
        if lms is None:
            raise ValueError(
                f"format {name} needs an LMS configured for the issuer (--lms-config/--lms-source)"
            )
        made.append({"xapi": XapiEncoder, "caliper": CaliperEncoder, "lti": LtiEncoder}[name](lms))
    return made


__all__ = [
    "FORMATS",
    "MALFORMED_KINDS",
    "CaliperEncoder",
    "LmsTarget",
    "LtiEncoder",
    "XapiEncoder",
    "encoders",
]
