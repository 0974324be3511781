"""Shared model configuration for every event payload."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _require_timezone(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a timezone offset (RFC 3339)")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_require_timezone)]
"""An RFC 3339 timestamp with an explicit offset; naive timestamps are ambiguous on the wire."""

Identifier = Annotated[str, Field(min_length=1, max_length=512)]
"""An opaque identifier (IRI, URN, UUID or an LMS's own id)."""


class Event(BaseModel):
    """Base of every event payload (the CloudEvents `data`).

    Frozen, and unknown fields are ignored, so an additive change in a newer producer never breaks
    an older reader (docs/style.md, "SQL, contracts, configuration"). The CloudEvents `type` of
    the event is the class variable `event_type`; `event_version` is the payload's major version, carried in
    `ce_dataschema`. A new optional field keeps the version; a breaking change gets a new version,
    a new topic version and an upcaster.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=False)

    event_type: ClassVar[str]
    event_version: ClassVar[int] = 1

    @classmethod
    def dataschema(cls) -> str:
        """The `ce_dataschema` URI naming this payload's JSON Schema."""
        return f"urn:credstream:schema:{cls.event_type}:v{cls.event_version}"
