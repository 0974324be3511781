"""The transactional outbox: `Outbox.enqueue` in the caller's transaction, `OutboxRelay` publishes.

Design (docs/adr/0004-inbox-and-outbox.md): an event row is written on the same
connection and in the same transaction as the state change it announces, so both commit or
neither does. One relay per service holds a PostgreSQL session advisory lock and publishes rows
in id order; the lock makes it the only publisher, so records of one key leave in the order they
were committed (a second instance waits as a standby; the lock is released the moment its
holder's session ends, e.g. on SIGKILL). `LISTEN/NOTIFY` wakes the relay at once; a slow poll
covers a missed notification. A crash after publish and before marking publishes a row twice;
every consumer's inbox absorbs that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context

from contracts.base import Event
from contracts.envelope import CE_ID, CE_SUBJECT, TRACEPARENT, TRACESTATE, CloudEventAttributes
from contracts.topics import Routing, Topic
from services.runtime.config import ServiceSettings
from services.runtime.db import acquire
from services.runtime.faults import crash_point
from services.runtime.telemetry import metrics, tracer

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "credstream_outbox"  # notified by the outbox table's insert trigger


TraceOf = Callable[[Any], Context | None]
"""The trace context an outgoing event continues (that of the record that caused it, in a
batch); None continues the current context."""

_INSERT = (
    "INSERT INTO outbox (topic, key, headers, payload, event_id, event_type) VALUES ($1, $2, $3, $4, $5, $6)"
)


class EventOutbox(Protocol):
    """Where a use case puts the events it causes: the port services are written against (the
    real one is `Outbox`, bound to the use case's transaction; tests pass a fake)."""

    async def enqueue(self, topic: Topic, events: Event | Sequence[Event]) -> list[str]:
        """Queue one or many events of `topic`; returns their event ids, in order."""
        ...

    async def enqueue_bulk(
        self, topic: Topic, event_type: type[Event], payloads: Sequence[Mapping[str, Any]]
    ) -> None:
        """Queue many events of one type given as plain payloads (bulk operations)."""
        ...


class _Fields:
    """Attribute access to a plain payload, so a topic's routing rule reads it like the model."""

    __slots__ = ("_payload",)

    def __init__(self, payload: Mapping[str, Any]) -> None:
        self._payload = payload

    def __getattr__(self, name: str) -> Any:
        return self._payload[name]


def _routing(topic: Topic) -> Routing:
    if topic.routing is None:
        raise ValueError(f"topic {topic.name} has no routing rule: credstream does not produce it")
    return topic.routing


class Outbox:
    """The transactional outbox on one connection: each event becomes an outbox row inside the
    caller's transaction, keyed and identified by its topic's routing rule (contracts/topics.py).

    The event id is fixed now, so a re-published row carries the same `ce_id`; the trace context
    (`trace_of(event)`, else the current one) is stored with it, so the relay's publish joins the
    trace that caused it. The relay is woken at commit by the outbox table's trigger (runtime
    migration 0002).
    """

    def __init__(self, conn: asyncpg.Connection, *, source: str, trace_of: TraceOf | None = None) -> None:
        self._conn = conn
        self._source = source
        self._trace_of = trace_of

    def _row(self, topic: Topic, event: Event) -> tuple[str, bytes, list[list[str]], bytes, str, str]:
        if event.event_type not in topic.event_types():
            raise ValueError(f"{event.event_type} is not an event of topic {topic.name}")
        routing = _routing(topic)
        event_id = routing.event_id(event) if routing.event_id else str(uuid.uuid4())
        attributes = CloudEventAttributes(
            id=event_id,
            source=self._source,
            type=event.event_type,
            time=datetime.now(UTC),
            subject=routing.subject(event) if routing.subject else None,
            dataschema=event.dataschema(),
        )
        headers: dict[str, str] = {k: v.decode() for k, v in attributes.to_headers()}
        propagate.inject(headers, context=self._trace_of(event) if self._trace_of else None)
        return (
            topic.name,
            routing.key(event).encode(),
            [[k, v] for k, v in headers.items()],
            event.model_dump_json(exclude_none=True).encode(),
            event_id,
            event.event_type,
        )

    async def enqueue(self, topic: Topic, events: Event | Sequence[Event]) -> list[str]:
        """One event, or several in one pipelined statement (a batch's events, each with its own
        trace context). Returns the event ids, in order."""
        rows = [self._row(topic, event) for event in ([events] if isinstance(events, Event) else events)]
        if rows:
            await self._conn.executemany(_INSERT, rows)
        return [row[4] for row in rows]

    async def enqueue_bulk(
        self, topic: Topic, event_type: type[Event], payloads: Sequence[Mapping[str, Any]]
    ) -> None:
        """Many events of one type (e.g. 100,000 status changes) given as plain payloads, routed
        by the same rule, written with COPY.

        Payloads are serialized with orjson (building 100,000 pydantic objects costs more than the
        whole database write); the first payload of every call is validated against
        `event_type`, so a shape that drifts from the contract fails loudly.
        """
        if not payloads:
            return
        if event_type.event_type not in topic.event_types():
            raise ValueError(f"{event_type.event_type} is not an event of topic {topic.name}")
        event_type.model_validate(payloads[0])
        routing = _routing(topic)
        template = CloudEventAttributes(
            id="-",
            source=self._source,
            type=event_type.event_type,
            time=datetime.now(UTC),
            subject="-",
            dataschema=event_type.dataschema(),
        )
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        # Every event of the call shares its attributes but the id and subject: one template.
        base = {k: v.decode() for k, v in template.to_headers()} | carrier
        records = []
        for payload in payloads:
            fields = _Fields(payload)
            event_id = routing.event_id(fields) if routing.event_id else str(uuid.uuid4())
            subject = routing.subject(fields) if routing.subject else None
            headers = base | {CE_ID: event_id}
            if subject is None:
                headers.pop(CE_SUBJECT, None)
            else:
                headers[CE_SUBJECT] = subject
            records.append(
                (
                    topic.name,
                    routing.key(fields).encode(),
                    orjson.dumps([[k, v] for k, v in headers.items()]).decode(),
                    orjson.dumps(payload),
                    event_id,
                    event_type.event_type,
                )
            )
        await self._conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS outbox_batch "
            "(topic text, key bytea, headers text, payload bytea, event_id text, event_type text) "
            "ON COMMIT DROP"
        )
        await self._conn.copy_records_to_table("outbox_batch", records=records)
        await self._conn.execute(
            "INSERT INTO outbox (topic, key, headers, payload, event_id, event_type) "
            "SELECT topic, key, headers::jsonb, payload, event_id, event_type FROM outbox_batch"
        )
        await self._conn.execute("TRUNCATE outbox_batch")


@dataclass(frozen=True, slots=True)
class Publisher:
    """The one way a service's events leave, composed once in its `app.py`: `bind` gives the
    outbox of one transaction, with the service's CloudEvents source."""

    source: str

    def bind(self, conn: asyncpg.Connection, *, trace_of: TraceOf | None = None) -> Outbox:
        return Outbox(conn, source=self.source, trace_of=trace_of)


class OutboxRelay:
    """Publishes committed outbox rows to Kafka, in order, at least once."""

    def __init__(self, *, pool: asyncpg.Pool, producer: AIOKafkaProducer, settings: ServiceSettings) -> None:
        self._pool = pool
        self._producer = producer
        self._settings = settings
        self._wake = asyncio.Event()
        self._lock_key = f"credstream.outbox.{settings.database_schema}"
        self.is_leader = False
        self.published = 0

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Relay until cancelled; survives database and broker outages."""
        backoff = 0.5
        while True:
            try:
                await self._lead()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.is_leader = False
                log.exception("outbox relay failed; retrying in %.1fs", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            else:
                backoff = 0.5

    async def _lead(self) -> None:
        async with acquire(self._pool) as leader:
            if not await leader.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", self._lock_key):
                # Another instance of this service relays; stay a standby.
                await asyncio.sleep(2.0)
                return
            self.is_leader = True
            await leader.add_listener(NOTIFY_CHANNEL, self._on_notify)
            # The relay works on this session, not on pooled connections (no acquire and reset
            # per cycle), and its writes need not wait for their WAL flush: a mark the server
            # loses in a crash publishes its rows again, which every consumer's inbox absorbs
            # (the same as a relay crash between publish and mark).
            await leader.execute("SET synchronous_commit = off")
            last_cleanup = 0.0
            loop = asyncio.get_running_loop()
            try:
                while True:
                    self._wake.clear()
                    sent = await self._publish(leader)
                    if loop.time() - last_cleanup > 60:
                        await self.prune(leader)
                        last_cleanup = loop.time()
                    if sent < self._settings.relay_batch_size:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), self._settings.relay_idle_poll_s)
            finally:
                self.is_leader = False
                with contextlib.suppress(Exception):
                    await leader.remove_listener(NOTIFY_CHANNEL, self._on_notify)
                    await leader.execute("SELECT pg_advisory_unlock(hashtext($1))", self._lock_key)

    async def _publish(self, conn: asyncpg.Connection) -> int:
        """Publish one batch of unpublished rows; returns how many were published."""
        rows = await conn.fetch(
            "SELECT id, topic, key, headers, payload FROM outbox "
            "WHERE published_at IS NULL ORDER BY id LIMIT $1",
            self._settings.relay_batch_size,
        )
        if not rows:
            return 0
        crash_point(self._settings.fault_injection, "relay.before_publish")
        futures = []
        for row in rows:
            futures.append(await self._send(row))
        await asyncio.gather(*futures)
        crash_point(self._settings.fault_injection, "relay.after_publish")
        await conn.execute(
            "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
            [row["id"] for row in rows],
        )
        self.published += len(rows)
        metrics().published.add(len(rows))
        return len(rows)

    async def _send(self, row: asyncpg.Record) -> asyncio.Future[Any]:
        stored = {k: v for k, v in row["headers"]}
        parent = propagate.extract(stored)
        token = otel_context.attach(parent)
        try:
            with tracer().start_as_current_span(
                f"{row['topic']} publish",
                kind=trace.SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "send",
                    "messaging.destination.name": row["topic"],
                    "messaging.message.id": stored.get("ce_id", ""),
                    "credstream.outbox.id": row["id"],
                },
            ):
                outgoing = {k: v for k, v in stored.items() if k not in (TRACEPARENT, TRACESTATE)}
                propagate.inject(outgoing)
                future: asyncio.Future[Any] = await self._producer.send(
                    row["topic"],
                    value=bytes(row["payload"]),
                    key=bytes(row["key"]),
                    headers=[(k, v.encode()) for k, v in outgoing.items()],
                )
                return future
        finally:
            otel_context.detach(token)

    async def prune(self, conn: asyncpg.Connection) -> None:
        """Published outbox rows past their retention, and inbox rows past theirs (the relay is
        the one periodic job each service runs on its leader session). The inbox goes in chunks
        through its `processed_at` index (runtime migration 0003): no long lock on a busy table."""
        await conn.execute(
            "DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1)",
            self._settings.outbox_retention_s,
        )
        await conn.execute(
            "DELETE FROM inbox WHERE ctid = ANY(ARRAY(SELECT ctid FROM inbox "
            "WHERE processed_at < now() - make_interval(secs => $1) LIMIT 10000))",
            self._settings.inbox_retention_s,
        )
