"""Runs a service: migrations, producer, outbox relay, consumers and HTTP in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import uvicorn
import uvloop
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from services.runtime.config import ServiceSettings
from services.runtime.db import acquire, create_pool
from services.runtime.dead_letter import DeadLetterPublisher
from services.runtime.http import BodyLimit
from services.runtime.kafka import create_producer
from services.runtime.messaging import ConsumerPipeline, make_broker
from services.runtime.migrate import RUNTIME_MIGRATIONS, migrate
from services.runtime.outbox import OutboxRelay
from services.runtime.telemetry import setup_telemetry

log = logging.getLogger(__name__)


@dataclass
class ServiceHost:
    """Everything one service process runs; `create_app` of each service builds one."""

    settings: ServiceSettings
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    broker: KafkaBroker
    relay: OutboxRelay
    migrations: Path
    http: FastAPI | None = None
    background: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = field(default_factory=list)
    """Periodic work of the service (e.g. qa's expiry sweep): (task name, coroutine factory),
    started after the consumers and cancelled on stop."""
    pipelines: list[ConsumerPipeline] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Called once at stop, after the background tasks ended (e.g. to close HTTP clients)."""
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _server: uvicorn.Server | None = None
    started: bool = False

    async def start(self, *, serve_http: bool = True) -> None:
        async with acquire(self.pool) as conn:
            applied = await migrate(
                conn,
                schema=self.settings.database_schema,
                components=[
                    ("runtime", RUNTIME_MIGRATIONS),
                    (self.settings.service_name, self.migrations),
                ],
            )
        if applied:
            log.info("migrations applied: %s", ", ".join(applied))
        await self.producer.start()
        self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        await self.broker.start()
        for name, run in self.background:
            self._tasks.append(asyncio.create_task(run(), name=name))
        if serve_http and self.http is not None:
            config = uvicorn.Config(
                BodyLimit(self.http, self.settings.http_max_body_bytes),
                host=self.settings.http_host,
                port=self.settings.http_port,
                log_config=None,
                access_log=False,
                lifespan="off",
            )
            self._server = uvicorn.Server(config)
            self._tasks.append(asyncio.create_task(self._server.serve(), name="http"))
        self.started = True
        log.info(
            "%s started (http %s:%d, kafka %s)",
            self.settings.service_name,
            self.settings.http_host,
            self.settings.http_port,
            self.settings.kafka_bootstrap_servers,
        )

    async def readiness(self) -> dict[str, bool]:
        database = False
        with contextlib.suppress(Exception):
            async with self.pool.acquire() as conn:
                database = await conn.fetchval("SELECT true") is True
        broker = False
        with contextlib.suppress(Exception):
            broker = bool(await self.broker.ping(timeout=2.0))
        relay_task = next((t for t in self._tasks if t.get_name() == "outbox-relay"), None)
        return {
            "started": self.started,
            "database": database,
            "kafka": broker,
            "outbox_relay": relay_task is not None and not relay_task.done(),
        }

    async def stop(self) -> None:
        self.started = False
        if self._server is not None:
            # Let uvicorn finish its own shutdown, which closes the listening socket.
            self._server.should_exit = True
            http = next(t for t in self._tasks if t.get_name() == "http")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(http), 10)
        await self.broker.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for close in self.closers:
            with contextlib.suppress(Exception):
                await close()
        await self.producer.stop()
        await self.pool.close()

    async def run_until_signalled(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        await stop.wait()
        log.info("%s stopping", self.settings.service_name)
        await self.stop()


async def assemble_host(
    settings: ServiceSettings,
    *,
    migrations: Path,
    register: Callable[[KafkaBroker, ConsumerPipeline], None],
) -> ServiceHost:
    """The parts every service has, wired once: pool, idempotent producer, broker, one consumer
    pipeline (dead letters to the group's DLQ), and the outbox relay. `register` subscribes the
    service's handlers; the caller adds its HTTP app to the returned host."""
    pool = await create_pool(settings)
    producer = create_producer(settings)
    broker = make_broker(settings)
    pipeline = ConsumerPipeline(
        group=settings.consumer_group or settings.service_name,
        pool=pool,
        dead_letters=DeadLetterPublisher(producer, service=settings.service_name),
        settings=settings,
    )
    register(broker, pipeline)
    return ServiceHost(
        settings=settings,
        pool=pool,
        producer=producer,
        broker=broker,
        relay=OutboxRelay(pool=pool, producer=producer, settings=settings),
        migrations=migrations,
        pipelines=[pipeline],
    )


def run_service(
    settings_type: Callable[[], ServiceSettings], create_app: Callable[..., Awaitable[ServiceHost]]
) -> None:
    """`python -m services.<name>`: settings from the environment, telemetry, run until SIGTERM."""

    async def main() -> None:
        settings = settings_type()
        setup_telemetry(settings)
        host = await create_app(settings)
        await host.run_until_signalled()

    # uvloop: a faster event loop for every consumer, relay and HTTP request (libuv, the same
    # semantics as asyncio's); measured in bench/status_lists.py and bench/e2e_assessment.py.
    uvloop.run(main())
