"""Composition root of the issuance service: `create_app(settings)` wires everything once."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from services.issuance import handlers
from services.issuance.domain import IssuanceError
from services.issuance.http import create_http
from services.issuance.keyring import KeyringError
from services.issuance.service import IssuanceContext
from services.issuance.settings import Settings
from services.runtime.db import create_pool
from services.runtime.dead_letter import DeadLetterPublisher
from services.runtime.kafka import create_producer
from services.runtime.messaging import ConsumerPipeline, make_broker
from services.runtime.outbox import OutboxRelay
from services.runtime.process import ServiceHost

MIGRATIONS = Path(__file__).parent / "migrations"


async def create_app(settings: Settings) -> ServiceHost:
    pool = await create_pool(settings)
    producer = create_producer(settings)
    broker = make_broker(settings)
    pipeline = ConsumerPipeline(
        group=settings.consumer_group or settings.service_name,
        pool=pool,
        dead_letters=DeadLetterPublisher(producer, service=settings.service_name),
        settings=settings,
        permanent_errors=(IssuanceError, KeyringError),
    )
    handlers.register(broker, pipeline, settings)
    relay = OutboxRelay(pool=pool, producer=producer, settings=settings)
    host = ServiceHost(
        settings=settings,
        pool=pool,
        producer=producer,
        broker=broker,
        relay=relay,
        migrations=MIGRATIONS,
        pipelines=[pipeline],
    )

    def context(conn: asyncpg.Connection) -> IssuanceContext:
        return handlers.issuance_context(conn, settings)

    host.http = create_http(settings, pool, host.readiness, context)
    return host
