"""Generate JSON Schema and the AsyncAPI 3 document from the contract models.

python -m contracts.export          # write contracts/schemas/ and contracts/asyncapi/
python -m contracts.export --check  # exit 1 if the committed files differ (CI drift check)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic.json_schema import models_json_schema

from contracts import __version__
from contracts.base import Event
from contracts.envelope import (
    CE_DATASCHEMA,
    CE_ID,
    CE_SOURCE,
    CE_SPECVERSION,
    CE_SUBJECT,
    CE_TIME,
    CE_TYPE,
    CONTENT_TYPE,
    TRACEPARENT,
    TRACESTATE,
)
from contracts.topics import EVENT_TOPICS, Topic, dead_letter_topic

HERE = Path(__file__).parent
SCHEMA_DIR = HERE / "schemas"
ASYNCAPI_FILE = HERE / "asyncapi" / "asyncapi.yaml"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_file_name(event: type[Event]) -> str:
    return f"{event.event_type}.v{event.event_version}.json"


def event_json_schema(event: type[Event]) -> dict[str, Any]:
    schema = event.model_json_schema(mode="validation")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": event.dataschema(),
        "x-cloudevents-type": event.event_type,
        **schema,
    }


def cloudevents_headers_schema() -> dict[str, Any]:
    text = {"type": "string"}
    return {
        "type": "object",
        "description": "CloudEvents 1.0 Kafka binary-mode attributes and W3C trace context.",
        "required": [CE_SPECVERSION, CE_ID, CE_SOURCE, CE_TYPE, CONTENT_TYPE],
        "properties": {
            CE_SPECVERSION: {"const": "1.0"},
            CE_ID: {**text, "description": "Unique per source; source + id is the dedup key."},
            CE_SOURCE: {**text, "description": "URI-reference of the producing context."},
            CE_TYPE: {**text, "description": "The event type, e.g. credstream.achievement.earned."},
            CE_TIME: {**text, "format": "date-time"},
            CE_SUBJECT: text,
            CE_DATASCHEMA: {**text, "description": "urn:credstream:schema:<type>:v<version>"},
            CONTENT_TYPE: {"const": "application/json"},
            TRACEPARENT: {**text, "description": "W3C Trace Context traceparent."},
            TRACESTATE: text,
        },
    }


def _channel_id(topic: Topic) -> str:
    parts = topic.name.removeprefix("credstream.").removesuffix(".v1").replace("-", ".").split(".")
    return parts[0] + "".join(p.title() for p in parts[1:])


def asyncapi_document() -> dict[str, Any]:
    models = [event for topic in EVENT_TOPICS for event in topic.events]
    _, definitions = models_json_schema(
        [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = dict(sorted(definitions.get("$defs", {}).items()))
    schemas["CloudEventHeaders"] = cloudevents_headers_schema()

    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in EVENT_TOPICS:
        channel_id = _channel_id(topic)
        channel_messages = {}
        for event in topic.events:
            name = event.__name__
            messages[name] = {
                "name": event.event_type,
                "title": name,
                "summary": (event.__doc__ or "").strip().split("\n\n")[0].replace("\n", " "),
                "contentType": "application/json",
                "headers": {"$ref": "#/components/schemas/CloudEventHeaders"},
                "payload": {"$ref": f"#/components/schemas/{name}"},
                "bindings": {
                    "kafka": {
                        "key": {"type": "string", "description": topic.key},
                        "bindingVersion": "0.5.0",
                    }
                },
            }
            channel_messages[name] = {"$ref": f"#/components/messages/{name}"}
        channels[channel_id] = {
            "address": topic.name,
            "description": topic.description,
            "messages": channel_messages,
            "bindings": {
                "kafka": {
                    "topic": topic.name,
                    "partitions": topic.partitions,
                    "topicConfiguration": {"cleanup.policy": ["compact"] if topic.compacted else ["delete"]},
                    "bindingVersion": "0.5.0",
                }
            },
        }
        refs = [{"$ref": f"#/channels/{channel_id}/messages/{e.__name__}"} for e in topic.events]
        for role, action in [(p, "send") for p in topic.producers] + [
            (c, "receive") for c in topic.consumers
        ]:
            op: dict[str, Any] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "messages": refs,
            }
            if action == "receive" and role in {"assessment", "issuance", "qa", "revocation"}:
                op["bindings"] = {"kafka": {"groupId": {"const": role}, "bindingVersion": "0.5.0"}}
                op["description"] = (
                    f"Consumer group {role}; records it cannot accept go to "
                    f"{dead_letter_topic(role)} with a reason."
                )
            operations[f"{role}.{action}.{channel_id}"] = op
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "credstream events",
            "version": __version__,
            "description": (
                "Event contracts of credstream, generated from the pydantic models in "
                "`contracts/` by `python -m contracts.export`. Every record is a CloudEvents 1.0 "
                "event in Kafka binary mode."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The native local runner (deploy/local).",
            },
            "compose": {
                "host": "kafka:9092",
                "protocol": "kafka",
                "description": "docker-compose.yml",
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def render() -> dict[Path, str]:
    """Every generated file and its exact content."""
    files: dict[Path, str] = {}
    for topic in EVENT_TOPICS:
        for event in topic.events:
            text = json.dumps(event_json_schema(event), indent=2, sort_keys=False) + "\n"
            files[SCHEMA_DIR / schema_file_name(event)] = text
    files[ASYNCAPI_FILE] = "# GENERATED by `python -m contracts.export`; do not edit.\n" + yaml.safe_dump(
        asyncapi_document(), sort_keys=False, allow_unicode=True, width=100
    )
    return files


def drift() -> list[str]:
    """Files that are missing, stale, or no longer generated."""
    expected = render()
    problems = [str(p) for p, text in expected.items() if not p.exists() or p.read_text() != text]
    problems += [str(p) for p in SCHEMA_DIR.glob("*.json") if p not in expected]
    return sorted(problems)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail on drift, write nothing")
    args = parser.parse_args(argv)
    if args.check:
        stale = drift()
        for stale_path in stale:
            sys.stderr.write(f"drift: {stale_path} (run `python -m contracts.export`)\n")
        return 1 if stale else 0
    for old in SCHEMA_DIR.glob("*.json"):
        old.unlink()
    for target, text in render().items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
