"""Composition root of the revocation service: `create_app(settings)` wires everything once."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx

from services.revocation import handlers
from services.revocation.domain import RevocationError
from services.revocation.http import create_http
from services.revocation.publisher import ListPublisher, issuance_signer
from services.revocation.service import RevocationContext
from services.revocation.settings import Settings
from services.runtime.process import ServiceHost, assemble_host

MIGRATIONS = Path(__file__).parent / "migrations"


async def create_app(settings: Settings) -> ServiceHost:
    client = httpx.AsyncClient()
    sign = issuance_signer(settings, client)
    host = await assemble_host(
        settings,
        migrations=MIGRATIONS,
        register=lambda broker, pipeline: handlers.register(broker, pipeline, settings, sign),
        permanent_errors=(RevocationError,),
    )

    def context(conn: asyncpg.Connection) -> RevocationContext:
        return handlers.revocation_context(conn, settings, sign)

    host.http = create_http(settings, host.pool, host.readiness, context)
    publisher = ListPublisher(pool=host.pool, settings=settings, sign=sign)
    host.background.append(("status-list-publisher", publisher.run))
    host.closers.append(client.aclose)
    return host
