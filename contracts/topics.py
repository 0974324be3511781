"""The topic registry: every Kafka topic credstream uses, its events, key rule and consumers.

Topic names carry their contract version (`.v1`); a breaking change gets a new topic version and
an upcaster. Records are keyed by the entity whose events must stay in order, so that one
partition sees them in sequence (Kafka orders records per partition only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from contracts.base import Event
from contracts.v1.assessment import AchievementDefined, AchievementEarned, AssessmentResultSubmitted
from contracts.v1.issuance import CredentialIssued
from contracts.v1.lms import CaliperEnvelopeReceived, LtiScoreReceived, XapiStatementReceived
from contracts.v1.qa import (
    AttestationExpired,
    AttestationGranted,
    AttestationRenewed,
    AttestationSubmitted,
    AttestationWithdrawn,
)
from contracts.v1.revocation import (
    CredentialStatusChanged,
    CredentialStatusChangeRequested,
    StatusIndexBlockRequested,
    StatusIndexBlockReserved,
)


@dataclass(frozen=True)
class Routing:
    """How a record of the topic is keyed and identified, derived from its event alone.

    Every producer applies the same rule (the services' outbox, the CLI, the tools), so a fact
    derived twice (a redelivered cause, a re-run batch) is the same record: the same key (its
    partition, so one entity's events stay in order) and the same CloudEvents id (what every
    inbox deduplicates on). Each rule reads the event's fields by attribute, so it applies to the
    event model or to a plain payload behind an attribute view (the bulk outbox path).
    """

    key: Callable[[Any], str]
    """The record key: the entity whose events must stay in order."""
    event_id: Callable[[Any], str] | None = None
    """The CloudEvents id; None means a fresh UUID per record (nothing re-derives that event)."""
    subject: Callable[[Any], str | None] | None = None
    """The CloudEvents subject (`ce_subject`), when the topic names one."""


@dataclass(frozen=True)
class Topic:
    """One Kafka topic and its contract."""

    name: str
    events: tuple[type[Event], ...]
    key: str
    description: str
    partitions: int = 3
    compacted: bool = False
    producers: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()
    config: dict[str, str] = field(default_factory=dict)
    routing: Routing | None = None
    """How credstream's own producers key and identify records; None on topics only outside
    producers (LMSs, agencies) write, whose key rule is the prose in `key`."""

    def event_types(self) -> dict[str, type[Event]]:
        return {event.event_type: event for event in self.events}


ASSESSMENT_RESULTS = Topic(
    name="credstream.assessment.results.v1",
    events=(AssessmentResultSubmitted,),
    key="learner.id (so one learner's results are evaluated in order)",
    description="Assessment results from LMSs, in credstream's own contract.",
    partitions=6,
    producers=("lms",),
    consumers=("assessment",),
)
LMS_XAPI = Topic(
    name="credstream.lms.xapi.v1",
    events=(XapiStatementReceived,),
    key="the actor's identifier (so one learner's statements are evaluated in order)",
    description="xAPI statements as an LMS or LRS forwards them (the value is the statement).",
    partitions=6,
    producers=("lms",),
    consumers=("assessment",),
)
LMS_CALIPER = Topic(
    name="credstream.lms.caliper.v1",
    events=(CaliperEnvelopeReceived,),
    key="the learner (Attempt assignee) when the envelope is about one learner",
    description="IMS Caliper 1.1/1.2 envelopes; GradeEvents become assessment results.",
    partitions=6,
    producers=("lms",),
    consumers=("assessment",),
)
LMS_LTI_SCORES = Topic(
    name="credstream.lms.lti-scores.v1",
    events=(LtiScoreReceived,),
    key="userId",
    description="LTI AGS 2.0 scores; `ce_subject` names the line item (activity).",
    partitions=6,
    producers=("lms",),
    consumers=("assessment",),
)
ACHIEVEMENT_DEFINITIONS = Topic(
    name="credstream.achievement.definitions.v1",
    events=(AchievementDefined,),
    key="achievement_id (compacted: the newest definition of each achievement is kept)",
    description="Achievement definitions with their assessment criteria.",
    compacted=True,
    producers=("issuance",),
    consumers=("assessment", "qa"),
    routing=Routing(
        key=lambda e: e.achievement_id,
        # One id per revision: a definition published again is recognisably the same fact.
        event_id=lambda e: f"{e.achievement_id}@{e.revision}",
        subject=lambda e: e.achievement_id,
    ),
)
ACHIEVEMENTS_EARNED = Topic(
    name="credstream.achievement.earned.v1",
    events=(AchievementEarned,),
    key="earned_id (one learner + achievement + award)",
    description="A learner met an achievement's criteria; issuance turns it into a credential.",
    partitions=6,
    producers=("assessment",),
    consumers=("issuance",),
    routing=Routing(
        key=lambda e: e.earned_id,
        # The earned id is the event id: a re-derived award is recognisably the same event.
        event_id=lambda e: e.earned_id,
        subject=lambda e: e.learner.id,
    ),
)
CREDENTIALS_ISSUED = Topic(
    name="credstream.credential.issued.v1",
    events=(CredentialIssued,),
    key="credential_id",
    description="Signed credentials as issued: the stream agencies and registries subscribe to.",
    partitions=6,
    producers=("issuance",),
    consumers=("revocation", "agencies"),
    routing=Routing(
        key=lambda e: e.credential_id,
        # One event id per credential: a re-issued row is recognisably the same fact.
        event_id=lambda e: e.credential_id,
        subject=lambda e: e.credential_id,
    ),
)
QA_SUBMISSIONS = Topic(
    name="credstream.qa.submissions.v1",
    events=(AttestationSubmitted,),
    key="subject id (issuer or achievement the attestation covers)",
    description="Attestations signed and submitted by QA agencies.",
    producers=("qa-agency",),
    consumers=("qa",),
)
QA_ATTESTATIONS = Topic(
    name="credstream.qa.attestations.v1",
    events=(AttestationGranted, AttestationRenewed, AttestationWithdrawn, AttestationExpired),
    key="attestation_id",
    description="Accepted attestations and their life cycle, as validated by the QA service.",
    producers=("qa",),
    consumers=("issuance",),
    routing=Routing(
        # Keyed by attestation: its granted/renewed/withdrawn/expired facts stay in order.
        key=lambda e: e.attestation_id,
        event_id=lambda e: f"{e.attestation_id}#{e.event_type.rsplit('.', 1)[-1]}:{e.endorsement_id}",
        subject=lambda e: e.attestation_id,
    ),
)
STATUS_REQUESTS = Topic(
    name="credstream.credential.status-requests.v1",
    events=(CredentialStatusChangeRequested,),
    key="credential_id",
    description="Requests to revoke, suspend or lift the suspension of a credential.",
    producers=("provider", "issuance", "operator"),
    consumers=("revocation",),
    routing=Routing(
        key=lambda e: e.credential_id,
        event_id=lambda e: e.request_id,
        subject=lambda e: e.credential_id,
    ),
)
CREDENTIAL_STATUS = Topic(
    name="credstream.credential.status.v1",
    events=(CredentialStatusChanged,),
    key="credential_id",
    description="Status changes applied and published in a Bitstring Status List.",
    producers=("revocation",),
    consumers=("agencies",),
    routing=Routing(
        key=lambda e: e.credential_id,
        event_id=lambda e: e.change_id,
        subject=lambda e: e.credential_id,
    ),
)
STATUS_INDEX_REQUESTS = Topic(
    name="credstream.status.index-requests.v1",
    events=(StatusIndexBlockRequested,),
    key="issuer_id (one issuer's requests in order)",
    description="Issuance asks for blocks of status list indexes when its pool runs low.",
    producers=("issuance",),
    consumers=("revocation",),
    routing=Routing(
        key=lambda e: e.issuer_id,
        event_id=lambda e: e.request_id,
        subject=lambda e: e.issuer_id,
    ),
)
STATUS_INDEX_BLOCKS = Topic(
    name="credstream.status.index-blocks.v1",
    events=(StatusIndexBlockReserved,),
    key="issuer_id",
    description="Blocks of random, never reused status list indexes reserved for an issuer.",
    producers=("revocation",),
    consumers=("issuance",),
    routing=Routing(
        key=lambda e: e.issuer_id,
        event_id=lambda e: e.block_id,
        subject=lambda e: e.status_list_credential,
    ),
)

EVENT_TOPICS: tuple[Topic, ...] = (
    ASSESSMENT_RESULTS,
    LMS_XAPI,
    LMS_CALIPER,
    LMS_LTI_SCORES,
    ACHIEVEMENT_DEFINITIONS,
    ACHIEVEMENTS_EARNED,
    CREDENTIALS_ISSUED,
    QA_SUBMISSIONS,
    QA_ATTESTATIONS,
    STATUS_REQUESTS,
    CREDENTIAL_STATUS,
    STATUS_INDEX_REQUESTS,
    STATUS_INDEX_BLOCKS,
)

CONSUMER_GROUPS: dict[str, tuple[Topic, ...]] = {
    "assessment": (ASSESSMENT_RESULTS, LMS_XAPI, LMS_CALIPER, LMS_LTI_SCORES, ACHIEVEMENT_DEFINITIONS),
    "issuance": (ACHIEVEMENTS_EARNED, QA_ATTESTATIONS, STATUS_INDEX_BLOCKS),
    "qa": (QA_SUBMISSIONS, ACHIEVEMENT_DEFINITIONS),
    "revocation": (STATUS_REQUESTS, CREDENTIALS_ISSUED, STATUS_INDEX_REQUESTS),
}
"""Each service's consumer group and the topics it reads."""


def dead_letter_topic(group: str) -> str:
    """The dead-letter topic of one consumer group.

    A dead-lettered record keeps its original key, value and headers, plus `dlq.*` headers with
    the reason code, error class and message, source topic/partition/offset and consumer group.
    """
    return f"credstream.dlq.{group}.v1"


DEAD_LETTER_TOPICS: tuple[str, ...] = tuple(dead_letter_topic(g) for g in CONSUMER_GROUPS)

DLQ_REASON = "dlq.reason"
DLQ_ERROR_CLASS = "dlq.error_class"
DLQ_ERROR_MESSAGE = "dlq.error_message"
DLQ_SOURCE_TOPIC = "dlq.source_topic"
DLQ_SOURCE_PARTITION = "dlq.source_partition"
DLQ_SOURCE_OFFSET = "dlq.source_offset"
DLQ_CONSUMER_GROUP = "dlq.consumer_group"
DLQ_FAILED_AT = "dlq.failed_at"


def all_topic_names() -> list[str]:
    return [t.name for t in EVENT_TOPICS] + list(DEAD_LETTER_TOPICS)
