"""Consuming events: the one pipeline every subscriber runs (docs/style.md, "The handler rule").

For each record: continue the producer's trace; decode the CloudEvents envelope and validate the
payload against the topic's contract (anything invalid is a permanent error); then, in a
transaction, claim the inbox row and run the service's handler, whose outgoing events are outbox
rows on the same connection; commit, then ack (commit the offset). Permanent errors go to the
dead-letter topic (then ack); transient faults are retried in place and, past a bounded window,
handed back to Kafka by seeking to the record (nack), never dead-lettered.

Batches: a subscriber receives what one poll returned (up to `consumer_max_poll_records`).
Records that fail the envelope or contract checks are dead-lettered; the valid ones run in ONE
transaction (one inbox claim statement for all of them, then each record's handler), and the
batch's offsets are committed once. If any handler raises (a refusal, a transient fault, an
unexpected error) the whole batch rolls back and its records run again one by one, each in its
own transaction with the per-record rules above, so a refusal still rolls back alone. Refusals
are rare (malformed input is caught before the database), so the fast path is the common one.
A crash anywhere redelivers the uncommitted part, which the inbox absorbs. Per record this saves
a transaction, an inbox round trip and an offset commit, most of the time a record spent in a
service when each went on its own (README, "Performance").

Ack policy: explicit `NACK_ON_ERROR` with auto-commit off. FastStream's Kafka default acks on
consume (`ACK_FIRST`, auto-commit: at most once); with `NACK_ON_ERROR` the offsets are committed
after the pipeline returns, and a raised error seeks back so the records are fetched again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg
from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from opentelemetry import propagate, trace
from opentelemetry.context import Context
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
from services.runtime.errors import UNSTORABLE_TEXT, DomainError, is_transient
from services.runtime.kafka import KafkaAccess
from services.runtime.telemetry import metrics, tracer

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)

MAX_PAYLOAD_BYTES = 1024 * 1024


def poison_backoff_s(settings: ServiceSettings) -> float:
    """How long a record that fails on every attempt holds its partition in back-off before it is
    dead-lettered: the pauses between `retry_attempts` attempts (docs/operations.md). The attempts
    themselves and the dead-letter write come on top."""
    pauses = [
        min(settings.retry_backoff_s * 2.0**n, settings.retry_backoff_max_s)
        for n in range(max(settings.retry_attempts - 1, 0))
    ]
    return float(sum(pauses))


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
    trace: Context | None = None
    """The record's `process` span as a context, set for batched handlers: events a record causes
    are enqueued with it (`outbox.enqueue(..., context=...)`), so its trace continues."""


Handler = Callable[[InboundEvent[Any], asyncpg.Connection], Awaitable[None]]
Route = Callable[[str], tuple[Topic, Handler]]


@dataclass(frozen=True, slots=True)
class Batched:
    """A handler that takes a run of consecutive records of its topic at once, to do its SQL set
    by set. Called with one record, it is an ordinary `Handler` (the one-by-one fallback)."""

    handle: Callable[[Sequence[InboundEvent[Any]], asyncpg.Connection], Awaitable[None]]

    async def __call__(self, inbound: InboundEvent[Any], conn: asyncpg.Connection) -> None:
        await self.handle([inbound], conn)


@dataclass(frozen=True, slots=True)
class _Work:
    """A valid record of a poll, ready for its handler."""

    inbound: InboundEvent[Event]
    record: ConsumerRecord[bytes, bytes]
    handler: Handler

    @property
    def key(self) -> tuple[str, str]:
        """The inbox key: (ce_source, ce_id)."""
        return self.inbound.attributes.source, self.inbound.attributes.id


class ConsumerPipeline:
    """Runs the handler rule for one consumer group."""

    def __init__(
        self,
        *,
        group: str,
        pool: asyncpg.Pool,
        dead_letters: DeadLetterPublisher,
        settings: ServiceSettings,
    ) -> None:
        self.group = group
        self._pool = pool
        self._dead_letters = dead_letters
        self._settings = settings
        self.processed = 0

    @property
    def pool(self) -> asyncpg.Pool:
        """The service's pool, for work a handler must commit apart from the record's transaction
        (e.g. an audit row of a refusal, which the rolled-back transaction would otherwise lose)."""
        return self._pool

    def decode(self, topic: Topic, record: ConsumerRecord[bytes, bytes]) -> InboundEvent[Event]:
        """Envelope and payload checks; every failure is a DomainError with a reason code."""
        try:
            attributes = parse_attributes(headers_to_dict(record.headers or ()))
        except EnvelopeError as exc:
            raise DomainError("envelope_invalid", str(exc)) from exc
        media_type = attributes.datacontenttype.split(";")[0].strip().lower()
        if media_type != JSON_CONTENT_TYPE:
            raise DomainError(
                "content_type_unsupported",
                f"content-type {attributes.datacontenttype[:100]!r} is not {JSON_CONTENT_TYPE}",
            )
        try:
            model = model_for(topic, attributes.type)
        except UnknownEventType as exc:
            raise DomainError("unknown_event_type", str(exc)) from exc
        value = record.value
        if not value:
            raise DomainError("malformed_json", "the record has no value")
        if len(value) > MAX_PAYLOAD_BYTES:
            raise DomainError("payload_too_large", f"{len(value)} bytes > {MAX_PAYLOAD_BYTES}")
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
        """Process one record to completion, as a batch of one (the subscriber's own path):
        applied once, skipped as a duplicate, or dead-lettered. Raises RecordNotProcessed only
        after a long transient outage."""
        await self.process_batch([record], lambda _: (topic, handler))

    async def process_batch(self, records: Sequence[ConsumerRecord[bytes, bytes]], route: Route) -> None:
        """Process one poll's records to completion (see the module's "Batches"): every record
        applied once, skipped as a duplicate, or dead-lettered. Raises RecordNotProcessed only
        after a long transient outage."""
        started = time.perf_counter()
        decoded: list[tuple[ConsumerRecord[bytes, bytes], InboundEvent[Event] | DomainError, Handler]] = []
        for record in records:
            topic, handler = route(record.topic)
            try:
                decoded.append((record, self.decode(topic, record), handler))
            except DomainError as exc:
                decoded.append((record, exc, handler))
        work = [_Work(d, r, h) for r, d, h in decoded if isinstance(d, InboundEvent)]
        applied = False
        if len(work) > 1:
            try:
                await self._apply_batch(work)
                applied = True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("batch of %d records rolled back (%r); running them one by one", len(work), exc)
                metrics().batch_fallbacks.add(1, {"group": self.group})
        # In the records' order: dead letters keep their partition's order, and one by one (a
        # single record, or after a rollback) each record runs in its own transaction.
        for record, outcome, handler in decoded:
            if isinstance(outcome, DomainError):
                with self._span(record) as span:
                    span.set_attribute("credstream.dead_letter.reason", outcome.reason)
                await self._dead_letters.publish(
                    record, group=self.group, reason=outcome.reason, error=outcome
                )
            elif not applied:
                with self._span(record) as span:
                    span.set_attribute("messaging.message.id", outcome.attributes.id)
                    await self._apply(outcome, record, handler, span)
        for record in records:
            metrics().consumed.add(1, {"group": self.group, "topic": record.topic})
        metrics().batch_size.record(len(records), {"group": self.group})
        elapsed = time.perf_counter() - started
        metrics().processing_seconds.record(elapsed / max(1, len(records)), {"group": self.group})

    async def _apply_batch(self, work: Sequence[_Work]) -> None:
        """Every record in one transaction, or none: any error propagates and rolls back all."""
        applied = 0
        async with transaction(self._pool) as conn:
            fresh = await inbox.claim_many(
                conn,
                consumer=self.group,
                events=[(w.key[0], w.key[1], w.inbound.attributes.type) for w in work],
            )
            runs: list[list[_Work]] = []
            for item in work:
                if item.key not in fresh:
                    with self._span(item.record) as span:
                        span.set_attribute("messaging.message.id", item.key[1])
                        span.set_attribute("credstream.duplicate", True)
                    metrics().duplicates.add(1, {"group": self.group})
                    continue
                fresh.discard(item.key)  # a second copy in the same batch is a duplicate too
                if runs and isinstance(item.handler, Batched) and runs[-1][0].handler is item.handler:
                    runs[-1].append(item)
                else:
                    runs.append([item])
            for run in runs:
                first = run[0]
                if isinstance(first.handler, Batched) and len(run) > 1:
                    await self._apply_run(first.handler, run, conn)
                else:
                    with self._span(first.record) as span:
                        span.set_attribute("messaging.message.id", first.inbound.attributes.id)
                        span.set_attribute("messaging.batch.message_count", len(work))
                        await first.handler(first.inbound, conn)
                applied += len(run)
        self.processed += applied

    async def _apply_run(self, handler: Batched, run: Sequence[_Work], conn: asyncpg.Connection) -> None:
        """One call of a batched handler; each record keeps its own `process` span (ended when
        the call returns), handed to the handler as the event's trace context."""
        spans = [self._start_span(w.record) for w in run]
        try:
            events = []
            for w, span in zip(run, spans, strict=True):
                span.set_attribute("messaging.message.id", w.inbound.attributes.id)
                span.set_attribute("messaging.batch.message_count", len(run))
                events.append(dataclasses.replace(w.inbound, trace=trace.set_span_in_context(span)))
            await handler.handle(events, conn)
        except BaseException as exc:
            for span in spans:
                span.record_exception(exc)
                span.set_status(trace.StatusCode.ERROR)
            raise
        finally:
            for span in spans:
                span.end()

    def _start_span(self, record: ConsumerRecord[bytes, bytes]) -> trace.Span:
        return tracer().start_span(
            f"{record.topic} process",
            context=propagate.extract(_trace_headers(record)),
            kind=trace.SpanKind.CONSUMER,
            attributes=self._span_attributes(record),
        )

    def _span_attributes(self, record: ConsumerRecord[bytes, bytes]) -> dict[str, str | int]:
        return {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": record.topic,
            "messaging.consumer.group.name": self.group,
            "messaging.destination.partition.id": str(record.partition),
            "messaging.kafka.offset": record.offset,
        }

    @contextmanager
    def _span(self, record: ConsumerRecord[bytes, bytes]) -> Iterator[trace.Span]:
        """The record's `process` span, continuing the producer's trace (one trace follows an
        event across every hop, batched or not)."""
        parent: Context = propagate.extract(_trace_headers(record))
        with tracer().start_as_current_span(
            f"{record.topic} process",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            attributes=self._span_attributes(record),
        ) as span:
            yield span

    async def _claim(self, conn: asyncpg.Connection, inbound: InboundEvent[Event]) -> bool:
        return await inbox.claim(
            conn,
            consumer=self.group,
            source=inbound.attributes.source,
            event_id=inbound.attributes.id,
            event_type=inbound.attributes.type,
        )

    async def _apply(
        self,
        inbound: InboundEvent[Event],
        record: ConsumerRecord[bytes, bytes],
        handler: Handler,
        span: trace.Span,
    ) -> None:
        attempts = 0
        transient_since: float | None = None
        delay = self._settings.retry_backoff_s
        while True:
            try:
                async with transaction(self._pool) as conn:
                    if not await self._claim(conn, inbound):
                        span.set_attribute("credstream.duplicate", True)
                        metrics().duplicates.add(1, {"group": self.group})
                        return
                    await handler(inbound, conn)
                self.processed += 1
                return
            except asyncio.CancelledError:
                raise
            except UNSTORABLE_TEXT as exc:
                await self._reject(record, span, "invalid_text", exc)
                return
            except Exception as exc:
                if isinstance(exc, DomainError) and not exc.transient:
                    await self._reject(record, span, exc.reason, exc)
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
                delay = min(delay * 2, self._settings.retry_backoff_max_s)

    async def _reject(
        self,
        record: ConsumerRecord[bytes, bytes],
        span: trace.Span,
        reason: str,
        exc: BaseException,
    ) -> None:
        span.set_attribute("credstream.dead_letter.reason", reason)
        await self._dead_letters.publish(record, group=self.group, reason=reason, error=exc)


def _trace_headers(record: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    carrier: dict[str, str] = {}
    for name, value in record.headers or ():
        if name in ("traceparent", "tracestate") and value:
            try:
                carrier[name] = value.decode("ascii")
            except UnicodeDecodeError:
                continue  # a forged or broken trace header starts a new trace; never an error
    return carrier


def _validation_error(model: type[Event], exc: ValidationError) -> DomainError:
    errors = exc.errors(include_url=False, include_input=False)
    if any(e["type"] in ("json_invalid", "json_type") for e in errors) and len(errors) == 1:
        return DomainError("malformed_json", f"payload is not valid JSON: {errors[0]['msg']}")
    details = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in errors[:8])
    more = f" (+{len(errors) - 8} more)" if len(errors) > 8 else ""
    return DomainError("schema_invalid", f"{model.__name__}: {details}{more}")


async def keep_records(
    records: Sequence[ConsumerRecord[bytes, bytes]],
    parse: Callable[[tuple[ConsumerRecord[bytes, bytes], ...]], Awaitable[StreamMessage[Any]]],
) -> StreamMessage[Any]:
    """FastStream's batch parser, given records it can read; the message keeps the originals.

    FastStream's Kafka parser decodes every header value as UTF-8 and raises on anything else (or
    on a null value) before any handler runs: such a record was never dead-lettered but nacked
    and fetched again, forever, blocking its partition. The parser gets copies without headers
    (the pipeline reads no header through FastStream); the pipeline reads the original records,
    so an unreadable CloudEvents header is still refused (`envelope_invalid`) and the dead letter
    keeps the bytes as sent.
    """
    originals = tuple(records)  # a tuple from the consumer; a list from TestKafkaBroker
    message = await parse(tuple(dataclasses.replace(r, headers=()) for r in originals))
    message.raw_message = originals
    return message


def make_broker(settings: ServiceSettings) -> KafkaBroker:
    """The FastStream broker a service consumes with (publishing goes through the outbox)."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=KafkaAccess.of(settings).faststream_security(),
        # Topics are provisioned by deploy/tools/topics.py; a service has no CREATE ACL.
        allow_auto_create_topics=False,
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
    """One batch subscriber for the group's topics; each record is routed to its topic's handler."""
    table = {topic.name: (topic, handler) for topic, handler in routes}

    async def keep_bytes(message: KafkaMessage) -> list[bytes]:
        # FastStream would json-decode the bodies before our handler runs, so a malformed record
        # would fail outside the pipeline and never reach the dead-letter topic. The pipeline
        # decodes and validates the records itself.
        return [bytes(b) for b in message.body]

    @broker.subscriber(
        *table,
        group_id=pipeline.group,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        batch=True,
        max_records=settings.consumer_max_poll_records,
        batch_timeout_ms=settings.consumer_batch_timeout_ms,
        parser=keep_records,
        decoder=keep_bytes,
        auto_offset_reset="earliest",
        max_poll_records=settings.consumer_max_poll_records,
        fetch_min_bytes=settings.consumer_fetch_min_bytes,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        # A record may wait through a transient window of retries; stay in the group meanwhile.
        max_poll_interval_ms=int(max(300.0, settings.transient_retry_window_s * 2) * 1000),
    )
    async def consume(message: KafkaMessage) -> None:
        records = message.raw_message
        assert isinstance(records, tuple)
        if records:
            await pipeline.process_batch(records, table.__getitem__)
