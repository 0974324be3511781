"""Publishing a contract event as an outside producer would (an LMS, an operator's seed).

Services never use this: their events leave through the transactional outbox. This is the
reference for a third party writing credstream's contract: CloudEvents binary-mode headers, JSON
data, a key following the topic's key rule, and W3C trace context.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from opentelemetry import propagate

from contracts.base import Event
from contracts.envelope import CloudEventAttributes, Headers
from contracts.topics import Topic


def event_record(
    event: Event, *, source: str, event_id: str | None = None, subject: str | None = None
) -> tuple[bytes, Headers]:
    """The (value, headers) of one CloudEvents binary-mode Kafka record for `event`."""
    attributes = CloudEventAttributes(
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=event.event_type,
        time=datetime.now(UTC),
        subject=subject,
        dataschema=event.dataschema(),
    )
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    headers = attributes.to_headers() + [(k, v.encode()) for k, v in carrier.items()]
    return event.model_dump_json(exclude_none=True).encode(), headers


async def publish_event(
    producer: AIOKafkaProducer,
    topic: Topic,
    event: Event,
    *,
    key: str,
    source: str,
    event_id: str | None = None,
    subject: str | None = None,
) -> str:
    """Publish and wait for the broker's acknowledgement; returns the CloudEvents id."""
    event_id = event_id or str(uuid.uuid4())
    value, headers = event_record(event, source=source, event_id=event_id, subject=subject)
    await producer.send_and_wait(topic.name, value=value, key=key.encode(), headers=headers)
    return event_id
