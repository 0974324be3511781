"""Consuming events: the one pipeline every subscriber runs (style guide, "The handler rule").

For each record: continue the producer's trace; decode the CloudEvents envelope and validate the
payload against the topic's contract (anything invalid is a permanent error); then, in one
transaction, claim the inbox row and run the service's handler, whose outgoing events are outbox
rows on the same connection; commit, then ack (commit the offset). Permanent errors go to the
dead-letter topic (then ack); transient faults are retried in place and, past a bounded window,
handed back to Kafka by seeking to the record (nack), never dead-lettered.

Ack policy: explicit `NACK_ON_ERROR` with auto-commit off. FastStream's Kafka default acks on
consume (`ACK_FIRST`, auto-commit: at most once); with `NACK_ON_ERROR` the offset is committed
after the pipeline returns, and a raised error seeks back so the record is fetched again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg
from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import propagate, trace
from pydantic import ValidationError

from contracts.base import Event
from contracts.envelope import (
    JSON_CONTENT_TYPE,
    CloudEventAttributes,
    EnvelopeError,
    headers_to_dict,
    parse_attributes,
)
from contracts.registry import UnknownEventType, model_for
from contracts.topics import Topic
from services.runtime import inbox
from services.runtime.config import ServiceSettings
from services.runtime.db import transaction
from services.runtime.dead_letter import DeadLetterPublisher
from services.runtime.errors import UNSTORABLE_TEXT, PermanentError, is_transient
from services.runtime.telemetry import metrics, tracer

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)

MAX_PAYLOAD_BYTES = 1024 * 1024


class RecordNotProcessed(Exception):
    """Raised to make FastStream nack (seek back to) a record after a long transient outage."""


@dataclass(frozen=True, slots=True)
class InboundEvent(Generic[E]):
    """A validated event with its envelope and where it came from."""

    attributes: CloudEventAttributes
    event: E
    topic: str
    partition: int
    offset: int
    key: bytes | None
    raw: bytes


Handler = Callable[[InboundEvent[Any], asyncpg.Connection], Awaitable[None]]


class ConsumerPipeline:
    """Runs the handler rule for one consumer group."""

    def __init__(
        self,
        *,
        group: str,
        pool: asyncpg.Pool,
        dead_letters: DeadLetterPublisher,
        settings: ServiceSettings,
        permanent_errors: tuple[type[Exception], ...] = (),
    ) -> None:
        self.group = group
        self._pool = pool
        self._dead_letters = dead_letters
        self._settings = settings
        self._permanent = permanent_errors
        self.processed = 0

    @property
    def pool(self) -> asyncpg.Pool:
        """The service's pool, for work a handler must commit apart from the record's transaction
        (e.g. an audit row of a refusal, which the rolled-back transaction would otherwise lose)."""
        return self._pool

    def decode(self, topic: Topic, record: ConsumerRecord[bytes, bytes]) -> InboundEvent[Event]:
        """Envelope and payload checks; every failure is a PermanentError with a reason code."""
        try:
            attributes = parse_attributes(headers_to_dict(record.headers or ()))
        except EnvelopeError as exc:
            raise PermanentError("envelope_invalid", str(exc)) from exc
        media_type = attributes.datacontenttype.split(";")[0].strip().lower()
        if media_type != JSON_CONTENT_TYPE:
            raise PermanentError(
                "content_type_unsupported",
                f"content-type {attributes.datacontenttype[:100]!r} is not {JSON_CONTENT_TYPE}",
            )
        try:
            model = model_for(topic, attributes.type)
        except UnknownEventType as exc:
            raise PermanentError("unknown_event_type", str(exc)) from exc
        value = record.value
        if not value:
            raise PermanentError("malformed_json", "the record has no value")
        if len(value) > MAX_PAYLOAD_BYTES:
            raise PermanentError("payload_too_large", f"{len(value)} bytes > {MAX_PAYLOAD_BYTES}")
        try:
            event = model.model_validate_json(value)
        except ValidationError as exc:
            raise _validation_error(model, exc) from exc
        return InboundEvent(
            attributes=attributes,
            event=event,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            raw=value,
        )

    async def process(self, topic: Topic, record: ConsumerRecord[bytes, bytes], handler: Handler) -> None:
        """Process one record to completion: applied once, skipped as a duplicate, or
        dead-lettered. Raises RecordNotProcessed only after a long transient outage."""
        started = time.perf_counter()
        parent = propagate.extract(_trace_headers(record))
        with tracer().start_as_current_span(
            f"{record.topic} process",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": record.topic,
                "messaging.consumer.group.name": self.group,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
            },
        ) as span:
            try:
                inbound = self.decode(topic, record)
            except PermanentError as exc:
                span.set_attribute("credstream.dead_letter.reason", exc.reason)
                await self._dead_letters.publish(record, group=self.group, reason=exc.reason, error=exc)
                return
            span.set_attribute("messaging.message.id", inbound.attributes.id)
            await self._apply(inbound, record, handler, span)
        metrics().consumed.add(1, {"group": self.group, "topic": record.topic})
        metrics().processing_seconds.record(time.perf_counter() - started, {"group": self.group})

    async def _apply(
        self,
        inbound: InboundEvent[Event],
        record: ConsumerRecord[bytes, bytes],
        handler: Handler,
        span: trace.Span,
    ) -> None:
        attempts = 0
        transient_since: float | None = None
        delay = 0.1
        while True:
            try:
                async with transaction(self._pool) as conn:
                    claimed = await inbox.claim(
                        conn,
                        consumer=self.group,
                        source=inbound.attributes.source,
                        event_id=inbound.attributes.id,
                        event_type=inbound.attributes.type,
                    )
                    if not claimed:
                        span.set_attribute("credstream.duplicate", True)
                        metrics().duplicates.add(1, {"group": self.group})
                        return
                    await handler(inbound, conn)
                self.processed += 1
                return
            except asyncio.CancelledError:
                raise
            except PermanentError as exc:
                await self._reject(record, span, exc.reason, exc)
                return
            except UNSTORABLE_TEXT as exc:
                await self._reject(record, span, "invalid_text", exc)
                return
            except Exception as exc:
                if self._permanent and isinstance(exc, self._permanent):
                    await self._reject(record, span, _reason_of(exc), exc)
                    return
                if is_transient(exc):
                    now = time.monotonic()
                    transient_since = transient_since or now
                    if now - transient_since > self._settings.transient_retry_window_s:
                        raise RecordNotProcessed(f"transient fault for too long: {exc!r}") from exc
                    log.warning("transient fault processing %s: %r; retrying", inbound.attributes.id, exc)
                else:
                    attempts += 1
                    log.exception("processing %s failed (attempt %d)", inbound.attributes.id, attempts)
                    if attempts >= self._settings.retry_attempts:
                        await self._reject(record, span, "processing_failed", exc)
                        return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _reject(
        self,
        record: ConsumerRecord[bytes, bytes],
        span: trace.Span,
        reason: str,
        exc: BaseException,
    ) -> None:
        span.set_attribute("credstream.dead_letter.reason", reason)
        await self._dead_letters.publish(record, group=self.group, reason=reason, error=exc)


def _reason_of(exc: Exception) -> str:
    """The reason code of a service's permanent error: assessment's errors name it `reason_code`,
    issuance's and revocation's `reason` (read only `reason_code`, every issuance and revocation
    refusal was dead-lettered as the vague "rejected")."""
    for attribute in ("reason_code", "reason"):
        value = getattr(exc, attribute, None)
        if isinstance(value, str) and value:
            return value
    return "rejected"


def _trace_headers(record: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    carrier: dict[str, str] = {}
    for name, value in record.headers or ():
        if name in ("traceparent", "tracestate") and value:
            try:
                carrier[name] = value.decode("ascii")
            except UnicodeDecodeError:
                continue  # a forged or broken trace header starts a new trace; never an error
    return carrier


def _validation_error(model: type[Event], exc: ValidationError) -> PermanentError:
    errors = exc.errors(include_url=False, include_input=False)
    if any(e["type"] in ("json_invalid", "json_type") for e in errors) and len(errors) == 1:
        return PermanentError("malformed_json", f"payload is not valid JSON: {errors[0]['msg']}")
    details = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in errors[:8])
    more = f" (+{len(errors) - 8} more)" if len(errors) > 8 else ""
    return PermanentError("schema_invalid", f"{model.__name__}: {details}{more}")


async def keep_raw_headers(
    record: ConsumerRecord[bytes, bytes],
    parse: Callable[[ConsumerRecord[bytes, bytes]], Awaitable[KafkaMessage]],
) -> KafkaMessage:
    """FastStream's parser, given headers it can read; the message keeps the original record.

    FastStream's Kafka parser decodes every header value as UTF-8 and raises on anything else (or
    on a null value) before any handler runs: such a record was never dead-lettered but nacked
    and fetched again, forever, blocking its partition. The parser gets a copy whose unreadable
    values are replaced; the pipeline reads the original record, so an unreadable CloudEvents
    header is still refused (`envelope_invalid`) and the dead letter keeps the bytes as sent.
    """
    headers = list(record.headers or ())
    if all(value is not None and _is_utf8(value) for _, value in headers):
        return await parse(record)
    readable = [(name, (value or b"").decode("utf-8", "replace").encode()) for name, value in headers]
    copy = dataclasses.replace(record, headers=readable)
    if hasattr(record, "consumer"):
        copy.consumer = record.consumer
    message = await parse(copy)
    message.raw_message = record
    return message


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def make_broker(settings: ServiceSettings) -> KafkaBroker:
    """The FastStream broker a service consumes with (publishing goes through the outbox)."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=f"credstream-{settings.service_name}-{settings.instance_id}",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        graceful_timeout=15.0,
        logger=logging.getLogger("faststream"),
        log_level=logging.DEBUG,
        apply_types=True,
    )


def subscribe(
    broker: KafkaBroker,
    pipeline: ConsumerPipeline,
    routes: Sequence[tuple[Topic, Handler]],
    *,
    settings: ServiceSettings,
) -> None:
    """One subscriber for the group's topics; each record is routed to its topic's handler."""
    table = {topic.name: (topic, handler) for topic, handler in routes}

    async def keep_bytes(message: KafkaMessage) -> bytes:
        # FastStream would json-decode the body before our handler runs, so a malformed record
        # would fail outside the pipeline and never reach the dead-letter topic. The pipeline
        # decodes and validates the record itself.
        return bytes(message.body)

    @broker.subscriber(
        *table,
        group_id=pipeline.group,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        parser=keep_raw_headers,
        decoder=keep_bytes,
        auto_offset_reset="earliest",
        max_poll_records=settings.consumer_max_poll_records,
        # A record may wait through a transient window of retries; stay in the group meanwhile.
        max_poll_interval_ms=int(max(300.0, settings.transient_retry_window_s * 2) * 1000),
    )
    async def consume(message: KafkaMessage) -> None:
        record = message.raw_message
        assert not isinstance(record, tuple)
        topic, handler = table[record.topic]
        await pipeline.process(topic, record, handler)
