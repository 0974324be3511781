"""CloudEvents 1.0 in Kafka binary content mode.

The event's attributes travel as Kafka headers (`ce_id`, `ce_source`, `ce_type`, `ce_specversion`,
`ce_time`, `ce_subject`, `ce_dataschema`), the data as the record value, and `datacontenttype`
as the `content-type` header (CloudEvents Kafka Protocol Binding 1.0, section 3.2). W3C trace
context travels beside them in `traceparent` / `tracestate`.

`ce_source` + `ce_id` is the deduplication key of every consumer's inbox (CloudEvents 1.0,
section 3.1.1: "Consumers MAY assume that Events with identical source and id are duplicates").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

SPECVERSION = "1.0"
JSON_CONTENT_TYPE = "application/json"

CE_ID = "ce_id"
CE_SOURCE = "ce_source"
CE_TYPE = "ce_type"
CE_SPECVERSION = "ce_specversion"
CE_TIME = "ce_time"
CE_SUBJECT = "ce_subject"
CE_DATASCHEMA = "ce_dataschema"
CONTENT_TYPE = "content-type"
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"

MAX_ATTRIBUTE_LENGTH = 1024

Headers = list[tuple[str, bytes]]


class EnvelopeError(ValueError):
    """The Kafka headers do not form a valid CloudEvents 1.0 binary-mode envelope."""


@dataclass(frozen=True, slots=True)
class CloudEventAttributes:
    """The CloudEvents context attributes of one event."""

    id: str
    source: str
    type: str
    time: datetime | None = None
    subject: str | None = None
    dataschema: str | None = None
    datacontenttype: str = JSON_CONTENT_TYPE
    specversion: str = SPECVERSION

    def to_headers(self) -> Headers:
        """Kafka headers for this envelope (without trace context)."""
        headers: Headers = [
            (CE_SPECVERSION, self.specversion.encode()),
            (CE_ID, self.id.encode()),
            (CE_SOURCE, self.source.encode()),
            (CE_TYPE, self.type.encode()),
            (CONTENT_TYPE, self.datacontenttype.encode()),
        ]
        if self.time is not None:
            headers.append((CE_TIME, _format_time(self.time).encode()))
        if self.subject is not None:
            headers.append((CE_SUBJECT, self.subject.encode()))
        if self.dataschema is not None:
            headers.append((CE_DATASCHEMA, self.dataschema.encode()))
        return headers


def _format_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise EnvelopeError("ce_time must carry a timezone")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def headers_to_dict(headers: Iterable[tuple[str, bytes | None]]) -> dict[str, str]:
    """Decode Kafka headers to text; the last value of a repeated header wins.

    Raises EnvelopeError when a CloudEvents or trace header is not UTF-8; other headers that are
    not text are left out (they are kept byte for byte wherever the original record is kept).
    """
    decoded: dict[str, str] = {}
    for name, value in headers:
        if value is None:
            continue
        try:
            decoded[name] = value.decode("utf-8")
        except UnicodeDecodeError:
            if name.startswith("ce_") or name in (CONTENT_TYPE, TRACEPARENT, TRACESTATE):
                raise EnvelopeError(f"header {name!r} is not UTF-8") from None
    return decoded


def parse_attributes(headers: Mapping[str, str]) -> CloudEventAttributes:
    """Read and check the CloudEvents attributes from decoded Kafka headers."""

    def required(name: str) -> str:
        value = headers.get(name)
        if value is None or value == "":
            raise EnvelopeError(f"missing required CloudEvents header {name!r}")
        if len(value) > MAX_ATTRIBUTE_LENGTH:
            raise EnvelopeError(f"header {name!r} is longer than {MAX_ATTRIBUTE_LENGTH}")
        return value

    specversion = required(CE_SPECVERSION)
    if specversion != SPECVERSION:
        raise EnvelopeError(f"unsupported ce_specversion {specversion!r} (expected {SPECVERSION})")
    time: datetime | None = None
    if raw_time := headers.get(CE_TIME):
        try:
            time = datetime.fromisoformat(raw_time.replace("Z", "+00:00"))
        except ValueError:
            raise EnvelopeError(f"ce_time {raw_time!r} is not an RFC 3339 timestamp") from None
        if time.tzinfo is None:
            raise EnvelopeError("ce_time must carry a timezone offset")
    for optional in (CE_SUBJECT, CE_DATASCHEMA, CONTENT_TYPE):
        if len(headers.get(optional, "")) > MAX_ATTRIBUTE_LENGTH:
            raise EnvelopeError(f"header {optional!r} is longer than {MAX_ATTRIBUTE_LENGTH}")
    return CloudEventAttributes(
        id=required(CE_ID),
        source=required(CE_SOURCE),
        type=required(CE_TYPE),
        time=time,
        subject=headers.get(CE_SUBJECT),
        dataschema=headers.get(CE_DATASCHEMA),
        datacontenttype=headers.get(CONTENT_TYPE, JSON_CONTENT_TYPE),
        specversion=specversion,
    )
