"""Composition root of the revocation service: `create_app(settings)` wires everything once."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx

from services.revocation import handlers
from services.revocation.context import ContextFactory
from services.revocation.http import create_http
from services.revocation.publisher import ListPublisher, Signer, issuance_signer, publish_list
from services.revocation.repository import RevocationRepository, StatusList
from services.revocation.service import RevocationContext
from services.revocation.settings import Settings
from services.runtime.outbox import Publisher
from services.runtime.process import ServiceHost, assemble_host

MIGRATIONS = Path(__file__).parent / "migrations"


def revocation_context(settings: Settings, publisher: Publisher, sign: Signer) -> ContextFactory:
    """The use cases' context, bound to one transaction's connection when called."""

    def bind(conn: asyncpg.Connection) -> RevocationContext:
        async def publish_now(status_list: StatusList) -> None:
            await publish_list(RevocationRepository(conn), status_list, sign=sign, ttl_s=settings.list_ttl_s)

        return RevocationContext(
            public_base_url=settings.public_base_url,
            list_length=settings.list_length,
            list_ttl_s=settings.list_ttl_s,
            event_source=settings.event_source,
            outbox=publisher.bind(conn),
            publish_list=publish_now,
        )

    return bind


async def create_app(settings: Settings) -> ServiceHost:
    client = httpx.AsyncClient()
    sign = issuance_signer(settings, client)
    context = revocation_context(settings, Publisher(source=settings.event_source), sign)
    host = await assemble_host(
        settings,
        migrations=MIGRATIONS,
        register=lambda broker, pipeline: handlers.register(broker, pipeline, settings, context),
    )
    host.http = create_http(settings, host.pool, host.readiness, context)
    publisher = ListPublisher(pool=host.pool, settings=settings, sign=sign)
    host.background.append(("status-list-publisher", publisher.run))
    host.closers.append(client.aclose)
    return host
