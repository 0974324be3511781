"""Generated JSON Schema and AsyncAPI must match the models; schemas must stay compatible."""

from __future__ import annotations

import json

import jsonschema
import pytest

from contracts import export
from contracts.registry import EVENT_MODELS
from contracts.topics import EVENT_TOPICS
from tests.fixtures.assessment import Scenario


def test_committed_schemas_and_asyncapi_match_the_models() -> None:
    assert export.drift() == [], "run `python -m contracts.export` and commit the result"


def test_every_event_of_every_topic_has_a_committed_schema() -> None:
    for topic in EVENT_TOPICS:
        for event in topic.events:
            assert (export.SCHEMA_DIR / export.schema_file_name(event)).exists()
    assert len(EVENT_MODELS) == sum(len(t.events) for t in EVENT_TOPICS), "event types are unique"


def test_a_model_dump_validates_against_its_committed_schema() -> None:
    event = Scenario().result("learner-1", 0, scaled=0.5)
    schema = json.loads((export.SCHEMA_DIR / export.schema_file_name(type(event))).read_text())
    jsonschema.Draft202012Validator(schema).validate(json.loads(event.model_dump_json(exclude_none=True)))


@pytest.mark.parametrize("topic", EVENT_TOPICS, ids=lambda t: t.name)
def test_asyncapi_channel_per_topic(topic: object) -> None:
    doc = export.asyncapi_document()
    assert doc["asyncapi"] == "3.0.0"
    assert topic.name in {c["address"] for c in doc["channels"].values()}  # type: ignore[attr-defined]
