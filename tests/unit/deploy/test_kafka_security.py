"""deploy/config/kafka-security.json against the code: every topic and consumer group a service
uses is granted (derived from contracts/topics.py, not a list kept here), nothing more; every LMS,
QA agency and service has its principal; each kind's role is enforced when the file is loaded;
docs/security.md shows the file's current ACL matrix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts.topics import (
    CONSUMER_GROUPS,
    EVENT_TOPICS,
    QA_SUBMISSIONS,
    all_topic_names,
    dead_letter_topic,
)
from deploy.local.runner import ROOT, SERVICES
from deploy.tools.kafka_security import (
    DEFAULT_FILE,
    Acl,
    CredentialStore,
    SecurityConfigError,
    load,
    matrix,
    password_variable,
)

MODEL = load()


def produced_by(service: str) -> set[str]:
    return {t.name for t in EVENT_TOPICS if service in t.producers} | {dead_letter_topic(service)}


@pytest.mark.parametrize("service", [s.name for s in SERVICES])
def test_each_service_is_granted_exactly_what_the_topic_registry_says_it_uses(service: str) -> None:
    principal = MODEL.service(service)
    assert set(principal.read) == {t.name for t in CONSUMER_GROUPS[service]}
    assert set(principal.write) == produced_by(service)
    assert principal.groups == (service,)  # ServiceSettings.consumer_group defaults to the service name
    assert not principal.group_prefixes


def test_every_topic_has_a_writer_and_every_consumed_topic_a_reader() -> None:
    writers = {t for p in MODEL.principals for t in p.write}
    readers = {t for p in MODEL.principals if p.kind == "service" for t in p.read}
    assert writers == set(all_topic_names())
    assert readers == {t.name for topics in CONSUMER_GROUPS.values() for t in topics}


def test_every_configured_lms_and_qa_agency_has_its_own_principal() -> None:
    lms_ids = {e["lms_id"] for e in json.loads((ROOT / "deploy/config/lms.json").read_text())["lms"]}
    agencies = {
        a["agency_id"] for a in json.loads((ROOT / "deploy/config/seed/qa.json").read_text())["agencies"]
    }
    assert {p.lms_id for p in MODEL.of_kind("lms")} == lms_ids
    assert {p.agency_id for p in MODEL.of_kind("qa-agency")} == agencies
    assert MODEL.of_kind("subscriber") and MODEL.of_kind("operator")


def test_lms_topics_are_the_ones_whose_producer_is_an_lms() -> None:
    lms_topics = {t.name for t in EVENT_TOPICS if "lms" in t.producers}
    for principal in MODEL.of_kind("lms"):
        assert set(principal.write) <= lms_topics and not principal.read
    for principal in MODEL.of_kind("qa-agency"):
        assert principal.write == (QA_SUBMISSIONS.name,) and not principal.read


def test_subscribers_read_only_streams_meant_for_agencies() -> None:
    for_agencies = {t.name for t in EVENT_TOPICS if "agencies" in t.consumers}
    for principal in MODEL.of_kind("subscriber"):
        assert set(principal.read) <= for_agencies and not principal.write
        assert all(g.startswith(f"{principal.name}.") for g in principal.group_prefixes)


def test_acls_are_read_write_and_group_rules_only_nothing_cluster_wide() -> None:
    acls = MODEL.acls()
    assert {a.resource_type for a in acls} == {"TOPIC", "GROUP"}
    assert Acl("agency-demo-registry", "GROUP", "PREFIXED", "agency-demo-registry.", "READ") in acls
    assert not any(a.principal == MODEL.super_user for a in acls)


def write(tmp_path: Path, principal: dict[str, object]) -> Path:
    document = json.loads(DEFAULT_FILE.read_text())
    document["principals"].append(principal)
    path = tmp_path / "kafka-security.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    "principal",
    [
        {"name": "lms-x", "kind": "lms", "lms_id": "x", "write": ["credstream.credential.issued.v1"]},
        {"name": "lms-x", "kind": "lms", "lms_id": "x", "read": ["credstream.assessment.results.v1"]},
        {
            "name": "qa-agency-x",
            "kind": "qa-agency",
            "agency_id": "x",
            "write": ["credstream.qa.attestations.v1"],
        },
        {
            "name": "agency-x",
            "kind": "subscriber",
            "read": ["credstream.credential.issued.v1"],
            "group_prefixes": ["agency-y."],
        },
        {
            "name": "agency-x",
            "kind": "subscriber",
            "read": ["credstream.credential.issued.v1"],
            "group_prefixes": ["agency-x."],
            "write": ["credstream.credential.status.v1"],
        },
        {"name": "svc-x", "kind": "service", "service": "x", "write": ["credstream.no-such-topic.v1"]},
        {"name": "svc-assessment", "kind": "operator"},  # a duplicate name
        {"name": "admin", "kind": "operator"},  # the super user is not a managed principal
    ],
)
def test_the_loader_refuses_a_principal_beyond_its_role(tmp_path: Path, principal: dict[str, object]) -> None:
    with pytest.raises(SecurityConfigError):
        load(write(tmp_path, principal))


def test_an_lms_may_be_limited_to_the_formats_it_sends(tmp_path: Path) -> None:
    only_xapi: dict[str, object] = {
        "name": "lms-lrs",
        "kind": "lms",
        "lms_id": "lrs",
        "write": ["credstream.lms.xapi.v1"],
    }
    acls = {a for a in load(write(tmp_path, only_xapi)).acls() if a.principal == "lms-lrs"}
    assert acls == {Acl("lms-lrs", "TOPIC", "LITERAL", "credstream.lms.xapi.v1", "WRITE")}


def test_the_credential_store_generates_passwords_once_and_keeps_them_private(tmp_path: Path) -> None:
    path = tmp_path / "kafka" / "credentials.json"
    store = CredentialStore.open(path)
    assert store.ensure(["a", "b"]) == ["a", "b"]
    first = dict(store.passwords)
    again = CredentialStore.open(path)
    assert again.ensure(["a", "b", "c"]) == ["c"]
    assert {k: again.passwords[k] for k in first} == first
    assert path.stat().st_mode & 0o777 == 0o600
    assert all("," not in p and len(p) >= 32 for p in again.passwords.values())  # --add-scram cannot take ','
    access = again.access("a", "127.0.0.1:1")
    assert access.client_options()["sasl_plain_username"] == "a"
    assert access.client_options()["security_protocol"] == "SASL_PLAINTEXT"


def test_compose_passes_passwords_as_environment_and_refuses_a_missing_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(password_variable("svc-assessment"), "from-env")
    store = CredentialStore.from_env(["svc-assessment", "operator"])
    assert password_variable("svc-assessment") == "KAFKA_PASSWORD_SVC_ASSESSMENT"
    assert store.passwords == {"svc-assessment": "from-env"}
    with pytest.raises(SecurityConfigError, match="KAFKA_PASSWORD_OPERATOR"):
        store.ensure(["svc-assessment", "operator"])


def test_the_operator_reads_every_topic() -> None:
    assert set(MODEL.principal("operator").read) == set(all_topic_names())


def test_docs_show_the_current_acl_matrix() -> None:
    assert matrix(MODEL) in (ROOT / "docs" / "security.md").read_text()
