"""Foreign LMS payloads carried on credstream topics: xAPI, IMS Caliper and LTI AGS scores.

These are not credstream's contract: the record value is the LMS's own JSON, unchanged, and the
CloudEvents headers (binary mode) name the LMS (`ce_source`) and the format (`ce_type`). The
models below only say "a JSON object" and list the fields credstream reads, so the generated
schema documents the channel; the assessment service's adapters check the specifications' rules
and refuse a payload with a precise reason (dead-letter topic) rather than a generic schema error.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from contracts.base import Event


class _Foreign(Event):
    model_config = ConfigDict(frozen=True, extra="allow")


class XapiStatementReceived(_Foreign):
    """One xAPI statement (xAPI 1.0.3 / IEEE 9274.1.1), as an LRS would receive it."""

    event_type = "credstream.lms.xapi.statement"

    id: Any = Field(default=None, description="Statement UUID; the deduplication key.")
    actor: Any = Field(default=None, description="Agent with exactly one inverse functional identifier.")
    verb: Any = Field(default=None, description="ADL verb: passed, failed, completed or scored.")
    object: Any = Field(default=None, description="The Activity assessed (`object.id`).")
    result: Any = Field(default=None, description="success, completion, score (scaled or raw/min/max).")
    timestamp: Any = None


class CaliperEnvelopeReceived(_Foreign):
    """An IMS Caliper 1.1 or 1.2 envelope; its `GradeEvent`s are read, other events ignored."""

    event_type = "credstream.lms.caliper.envelope"

    sensor: Any = None
    sendTime: Any = None
    dataVersion: Any = None
    data: Any = Field(default=None, description="Caliper events; GradeEvent (action Graded) counts.")


class LtiScoreReceived(_Foreign):
    """An LTI Assignment and Grade Services 2.0 score, as posted to a line item's `/scores`.

    The line item (the activity) is the record's `ce_subject`; only `FullyGraded` is final.
    """

    event_type = "credstream.lms.lti.score"

    userId: Any = None
    scoreGiven: Any = None
    scoreMaximum: Any = None
    activityProgress: Any = None
    gradingProgress: Any = None
    timestamp: Any = None
