"""Kafka authentication and authorisation on the real broker: every boundary of
deploy/config/kafka-security.json refused as the broker refuses it (TopicAuthorizationFailed,
GroupAuthorizationFailed, a failed SASL handshake), and the allowed path of every principal kind.

Nothing here writes a record a service would consume, except the LMS and QA-agency allowed paths,
whose records carry this module's own `ce_source` (the services dead-letter or ignore them, and
every other test filters dead letters by its own source or ids)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)
from pydantic import SecretStr

from contracts.topics import (
    ACHIEVEMENT_DEFINITIONS,
    ACHIEVEMENTS_EARNED,
    ASSESSMENT_RESULTS,
    CREDENTIAL_STATUS,
    CREDENTIALS_ISSUED,
    QA_ATTESTATIONS,
    QA_SUBMISSIONS,
    STATUS_REQUESTS,
    all_topic_names,
    dead_letter_topic,
)
from contracts.v1.assessment import AssessmentResultSubmitted, LearnerRef, Score
from deploy.local.runner import Stack
from deploy.tools.kafka_security import CredentialStore, admin_client, password_variable, provision, rotate
from deploy.tools.publish import publish_event
from services.runtime.kafka import KafkaAccess
from tests.fixtures.kafka import LMS_PRINCIPAL, QA_AGENCY_PRINCIPAL, SECURITY, SUBSCRIBER_PRINCIPAL

pytestmark = pytest.mark.integration

SOURCE = "urn:credstream:test:kafka-acls"
LMS = SECURITY.principal(LMS_PRINCIPAL)
AGENCY = SECURITY.principal(QA_AGENCY_PRINCIPAL)
SUBSCRIBER = SECURITY.principal(SUBSCRIBER_PRINCIPAL)


async def produce(access: KafkaAccess, topic: str, value: bytes = b"{}", *, idempotent: bool = True) -> None:
    """One record, acknowledged by the broker, or the broker's refusal raised."""
    producer = AIOKafkaProducer(
        **access.client_options(), acks="all", enable_idempotence=idempotent, request_timeout_ms=10_000
    )
    try:
        await producer.start()
        await producer.send_and_wait(topic, value, headers=[("ce_source", SOURCE.encode())])
    finally:
        await producer.stop()


async def join(access: KafkaAccess, topic: str, group: str) -> set[TopicPartition]:
    """Subscribe in consumer group `group` until partitions are assigned (JoinGroup, SyncGroup and
    OffsetFetch all authorised); commits nothing, so a service group's position is untouched."""
    consumer = AIOKafkaConsumer(
        topic, **access.client_options(), group_id=group, enable_auto_commit=False, auto_offset_reset="latest"
    )
    try:
        await consumer.start()
        for _ in range(40):
            await consumer.getmany(timeout_ms=250)
            if consumer.assignment():
                return set(consumer.assignment())
        raise AssertionError(f"{access.username} got no partitions of {topic} in group {group}")
    finally:
        await consumer.stop()


async def fetch(access: KafkaAccess, topic: str) -> tuple[int, int]:
    """Fetch a topic's first partition from its start without a consumer group (as `credstream
    tail` reads): (records in it, records fetched). Only for a principal that may at least
    DESCRIBE the topic; without that aiokafka waits for metadata instead of failing, so denials
    of topics a principal cannot even see are tested with `join`."""
    consumer = AIOKafkaConsumer(
        **access.client_options(), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    try:
        await consumer.start()
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        end = (await consumer.end_offsets([partition]))[partition]
        start = await consumer.position(partition)
        fetched = 0
        for _ in range(10):
            batches = await consumer.getmany(partition, timeout_ms=500)
            fetched += sum(len(records) for records in batches.values())
            if fetched:
                break
        return end - start, fetched
    finally:
        await consumer.stop()


def result_record() -> bytes:
    """A valid result for an issuer that has no achievements: the assessment service applies it
    and nothing follows."""
    return (
        AssessmentResultSubmitted(
            result_id=str(uuid.uuid4()),
            issuer_id=f"https://acl-{uuid.uuid4().hex[:8]}.test.credstream.example",
            learner=LearnerRef(id="acl-learner"),
            activity_id="https://acl.test.credstream.example/activity",
            score=Score(scaled=0.9),
            success=True,
            occurred_at=datetime.now(UTC),
        )
        .model_dump_json()
        .encode()
    )


# -- authentication --------------------------------------------------------------------------


async def test_a_wrong_password_an_unknown_user_and_an_unauthenticated_client_are_refused(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    right = stack.kafka(LMS.name)
    wrong = KafkaAccess(stack.bootstrap_servers, "SASL_PLAINTEXT", username=LMS.name, password=SecretStr("x"))
    stranger = KafkaAccess(
        stack.bootstrap_servers, "SASL_PLAINTEXT", username="lms-nobody", password=right.password
    )
    caplog.set_level(logging.ERROR, logger="aiokafka")
    for access in (wrong, stranger):
        caplog.clear()
        with pytest.raises(KafkaConnectionError):
            await produce(access, ASSESSMENT_RESULTS.name, result_record())
        assert "SaslAuthenticationFailed" in caplog.text
    # The client listener speaks SASL only: a PLAINTEXT client never gets as far as a request.
    with pytest.raises(KafkaConnectionError):
        await produce(KafkaAccess(stack.bootstrap_servers), ASSESSMENT_RESULTS.name, result_record())
    await produce(right, ASSESSMENT_RESULTS.name, result_record())  # the same call with the right password


# -- an LMS ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "topic", [CREDENTIALS_ISSUED.name, ACHIEVEMENTS_EARNED.name, ACHIEVEMENT_DEFINITIONS.name]
)
async def test_an_lms_cannot_write_the_platforms_streams(stack: Stack, topic: str) -> None:
    # Forging an award (earned), a credential or an achievement's criteria is refused.
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(stack.kafka(LMS.name), topic)


async def test_an_lms_cannot_read_even_the_results_topic_it_writes(stack: Stack) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await fetch(stack.kafka(LMS.name), ASSESSMENT_RESULTS.name)


async def test_an_lms_writes_each_results_topic_it_is_configured_for(stack: Stack) -> None:
    assert ASSESSMENT_RESULTS.name in LMS.write
    for topic in LMS.write:
        value = result_record() if topic == ASSESSMENT_RESULTS.name else b"{}"
        await produce(stack.kafka(LMS.name), topic, value)


# -- a QA agency -----------------------------------------------------------------------------


@pytest.mark.parametrize("topic", [QA_ATTESTATIONS.name, ASSESSMENT_RESULTS.name, STATUS_REQUESTS.name])
async def test_a_qa_agency_cannot_write_anything_but_submissions(stack: Stack, topic: str) -> None:
    # Above all not qa.attestations: only the QA service, after checking the signature, grants.
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(stack.kafka(AGENCY.name), topic)


async def test_a_qa_agency_writes_attestation_submissions(stack: Stack) -> None:
    assert AGENCY.write == (QA_SUBMISSIONS.name,)
    await produce(stack.kafka(AGENCY.name), QA_SUBMISSIONS.name)


# -- a subscribing agency --------------------------------------------------------------------


@pytest.mark.parametrize(
    "topic", [ACHIEVEMENTS_EARNED.name, QA_SUBMISSIONS.name, dead_letter_topic("issuance")]
)
async def test_a_subscriber_cannot_read_a_stream_it_is_not_entitled_to(stack: Stack, topic: str) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await join(stack.kafka(SUBSCRIBER.name), topic, f"{SUBSCRIBER.name}.acl-test")


@pytest.mark.parametrize(
    "group",
    [
        "revocation",  # a service's group: it would steal the service's partitions
        "agency-other-registry.audit",  # another agency's prefix
        SUBSCRIBER.name,  # its name without the prefix's dot
    ],
)
async def test_a_subscriber_cannot_consume_outside_its_own_group_prefix(stack: Stack, group: str) -> None:
    with pytest.raises(GroupAuthorizationFailedError):
        await join(stack.kafka(SUBSCRIBER.name), CREDENTIALS_ISSUED.name, group)


async def test_a_subscriber_cannot_write(stack: Stack) -> None:
    # An idempotent producer is refused its producer id (no WRITE anywhere), a plain one the topic.
    with pytest.raises(ClusterAuthorizationFailedError):
        await produce(stack.kafka(SUBSCRIBER.name), CREDENTIALS_ISSUED.name)
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(stack.kafka(SUBSCRIBER.name), CREDENTIALS_ISSUED.name, idempotent=False)


async def test_a_subscriber_reads_its_streams_in_groups_under_its_own_prefix(stack: Stack) -> None:
    assert set(SUBSCRIBER.read) == {CREDENTIALS_ISSUED.name, CREDENTIAL_STATUS.name}
    [prefix] = SUBSCRIBER.group_prefixes
    for topic in SUBSCRIBER.read:
        assigned = await join(stack.kafka(SUBSCRIBER.name), topic, f"{prefix}registry-{uuid.uuid4().hex[:6]}")
        assert {tp.topic for tp in assigned} == {topic}


# -- services and the operator ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "topic"),
    [
        ("assessment", CREDENTIALS_ISSUED.name),  # only issuance issues
        ("qa", CREDENTIAL_STATUS.name),  # only revocation changes a status
        ("revocation", ACHIEVEMENTS_EARNED.name),
        ("issuance", QA_ATTESTATIONS.name),  # issuance trusts attestations because only qa writes them
    ],
)
async def test_a_service_cannot_write_another_services_stream(stack: Stack, service: str, topic: str) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(stack.kafka(SECURITY.service(service).name), topic)


async def test_a_service_cannot_join_another_services_group(stack: Stack) -> None:
    assessment = stack.kafka(SECURITY.service("assessment").name)
    with pytest.raises(GroupAuthorizationFailedError):
        await join(assessment, ACHIEVEMENT_DEFINITIONS.name, "qa")


@pytest.mark.parametrize("service", ["assessment", "issuance", "qa", "revocation"])
async def test_a_service_reads_its_topics_in_its_group_and_writes_its_dead_letters(
    stack: Stack, service: str
) -> None:
    # Its outbox topics are written by the service itself in every other integration test.
    principal = SECURITY.service(service)
    access = stack.kafka(principal.name)
    [group] = principal.groups
    for topic in principal.read:
        assert {tp.topic for tp in await join(access, topic, group)} == {topic}
    await produce(access, dead_letter_topic(service))


async def test_the_operator_reads_every_topic_but_cannot_issue_or_define(stack: Stack) -> None:
    operator = stack.kafka("operator")
    await produce(stack.kafka_admin(), dead_letter_topic("qa"))  # at least one topic has data
    with_data = 0
    for topic in all_topic_names():
        available, fetched = await fetch(operator, topic)
        assert (fetched > 0) == (available > 0), topic
        with_data += available > 0
    assert with_data > 0
    for topic in (CREDENTIALS_ISSUED.name, ACHIEVEMENT_DEFINITIONS.name, QA_ATTESTATIONS.name):
        with pytest.raises(TopicAuthorizationFailedError):
            await produce(operator, topic)


# -- the whole matrix, and provisioning converging -------------------------------------------


async def test_no_principal_writes_a_topic_the_file_does_not_grant_it(stack: Stack) -> None:
    for principal in SECURITY.principals:
        access = stack.kafka(principal.name)
        for topic in sorted(set(all_topic_names()) - set(principal.write)):
            with pytest.raises(TopicAuthorizationFailedError):
                await produce(access, topic, idempotent=False)


async def test_re_provisioning_removes_a_stale_acl_of_a_managed_principal(stack: Stack) -> None:
    admin = admin_client(stack.kafka_admin())
    stale = AclBinding(
        ResourceType.TOPIC,
        ACHIEVEMENTS_EARNED.name,
        ResourcePatternType.LITERAL,
        f"User:{SUBSCRIBER.name}",
        "*",
        AclOperation.READ,
        AclPermissionType.ALLOW,
    )
    for future in admin.create_acls([stale]).values():
        future.result(timeout=30)
    subscriber, group = stack.kafka(SUBSCRIBER.name), f"{SUBSCRIBER.name}.acl-test"
    await wait_until_allowed(
        lambda: join(subscriber, ACHIEVEMENTS_EARNED.name, group)
    )  # a hand-made grant ...

    store = CredentialStore.open(stack.kafka_credentials)
    done = provision(stack.kafka_admin(), SECURITY, store)
    assert (done.acls_added, done.acls_removed, done.users_added) == (0, 1, [])
    with pytest.raises(TopicAuthorizationFailedError):  # ... is gone once provisioning converged
        await join(subscriber, ACHIEVEMENTS_EARNED.name, group)
    assert provision(stack.kafka_admin(), SECURITY, store).summary() == "users +0 -0, ACLs +0 -0"


async def wait_until_allowed(attempt: Callable[[], Awaitable[object]]) -> None:
    """A new ACL reaches the authorizer with the next metadata record: retry briefly."""
    for _ in range(20):
        try:
            await attempt()
            return
        except TopicAuthorizationFailedError:
            await asyncio.sleep(0.25)
    await attempt()


async def test_a_rotated_password_replaces_the_old_one(stack: Stack) -> None:
    before = stack.kafka(AGENCY.name)
    rotate(stack.kafka_admin(), CredentialStore.open(stack.kafka_credentials), AGENCY.name)
    after = stack.kafka(AGENCY.name)
    assert after.password != before.password
    await produce(after, QA_SUBMISSIONS.name)
    with pytest.raises(KafkaConnectionError):
        await produce(before, QA_SUBMISSIONS.name)


async def test_publishing_a_valid_result_as_the_lms_goes_through_the_shared_publisher(stack: Stack) -> None:
    # The README's usage example, as an LMS runs it with its own credentials.
    async with AIOKafkaProducer(**stack.kafka(LMS.name).client_options(), acks="all") as producer:
        await publish_event(
            producer,
            ASSESSMENT_RESULTS,
            AssessmentResultSubmitted.model_validate_json(result_record()),
            key="acl-learner",
            source=SOURCE,
        )


async def test_passwords_from_the_environment_are_upserted_as_given(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Compose hands every password in as KAFKA_PASSWORD_<NAME>; provisioning sets each user to it.
    names = [SECURITY.super_user, *(p.name for p in SECURITY.principals)]
    stored = CredentialStore.open(stack.kafka_credentials)
    new = {name: stored.passwords[name] for name in names} | {LMS.name: "from-the-environment"}
    for name, password in new.items():
        monkeypatch.setenv(password_variable(name), password)
    try:
        done = provision(stack.kafka_admin(), SECURITY, CredentialStore.from_env(names))
        assert sorted(done.users_added) == sorted(p.name for p in SECURITY.principals)
        lms = KafkaAccess(
            stack.bootstrap_servers, "SASL_PLAINTEXT", username=LMS.name, password=SecretStr(new[LMS.name])
        )
        await produce(lms, ASSESSMENT_RESULTS.name, result_record())
        with pytest.raises(KafkaConnectionError):
            await produce(stack.kafka(LMS.name), ASSESSMENT_RESULTS.name, result_record())
    finally:  # the stack's own store is the truth again
        rotate(stack.kafka_admin(), CredentialStore.open(stack.kafka_credentials), LMS.name)
    await produce(stack.kafka(LMS.name), ASSESSMENT_RESULTS.name, result_record())
