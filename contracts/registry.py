"""Event type -> model, and decoding of a record's value against its topic's contract."""

from __future__ import annotations

from contracts.base import Event
from contracts.topics import EVENT_TOPICS, Topic

EVENT_MODELS: dict[str, type[Event]] = {
    event.event_type: event for topic in EVENT_TOPICS for event in topic.events
}


class UnknownEventType(LookupError):
    """A record's `ce_type` is not an event this topic carries."""


def model_for(topic: Topic, event_type: str) -> type[Event]:
    """The model of `event_type` on `topic`; raises UnknownEventType for anything else."""
    model = topic.event_types().get(event_type)
    if model is None:
        raise UnknownEventType(
            f"event type {event_type[:200]!r} is not carried by topic {topic.name} "
            f"(expected one of {sorted(topic.event_types())})"
        )
    return model
