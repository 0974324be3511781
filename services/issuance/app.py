"""Composition root of the issuance service: `create_app(settings)` wires everything once."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from services.issuance import handlers
from services.issuance.context import ContextFactory
from services.issuance.fetch_guard import FetchPolicy, guarded_client
from services.issuance.http import create_http
from services.issuance.service import IssuanceContext
from services.issuance.settings import Settings
from services.issuance.status import FreeIndexGauge, StatusPolicy
from services.issuance.status_repository import StatusPoolRepository
from services.runtime.outbox import Publisher, TraceOf
from services.runtime.process import ServiceHost, assemble_host

MIGRATIONS = Path(__file__).parent / "migrations"


def issuance_context(settings: Settings, publisher: Publisher) -> ContextFactory:
    """The use cases' context, bound to one transaction's connection when called."""
    keyring = settings.keyring()

    def bind(
        conn: asyncpg.Connection, *, trace_of: TraceOf | None = None, gauge: FreeIndexGauge | None = None
    ) -> IssuanceContext:
        return IssuanceContext(
            public_base_url=settings.public_base_url,
            keyring=keyring,
            outbox=publisher.bind(conn, trace_of=trace_of),
            status_pool=StatusPoolRepository(conn),
            status=StatusPolicy(
                enabled=settings.credential_status,
                block_size=settings.status_block_size,
                low_water=settings.status_low_water,
                gauge=gauge or FreeIndexGauge(),
            ),
            actor=settings.event_source,
        )

    return bind


async def create_app(settings: Settings) -> ServiceHost:
    context = issuance_context(settings, Publisher(source=settings.event_source))
    host = await assemble_host(
        settings,
        migrations=MIGRATIONS,
        register=lambda broker, pipeline: handlers.register(broker, pipeline, settings, context),
    )
    policy = FetchPolicy(settings.status_list_allowed_base_urls)
    status_client = guarded_client(policy)  # status lists fetched by the public verifier
    host.closers.append(status_client.aclose)
    host.http = create_http(settings, host.pool, host.readiness, context, status_client, fetch_policy=policy)
    return host
