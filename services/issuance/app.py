"""Composition root of the issuance service: `create_app(settings)` wires everything once."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from services.issuance import handlers
from services.issuance.domain import IssuanceError
from services.issuance.fetch_guard import FetchPolicy, guarded_client
from services.issuance.http import create_http
from services.issuance.keyring import KeyringError
from services.issuance.service import IssuanceContext
from services.issuance.settings import Settings
from services.runtime.process import ServiceHost, assemble_host

MIGRATIONS = Path(__file__).parent / "migrations"


async def create_app(settings: Settings) -> ServiceHost:
    host = await assemble_host(
        settings,
        migrations=MIGRATIONS,
        register=lambda broker, pipeline: handlers.register(broker, pipeline, settings),
        permanent_errors=(IssuanceError, KeyringError),
    )

    def context(conn: asyncpg.Connection) -> IssuanceContext:
        return handlers.issuance_context(conn, settings)

    policy = FetchPolicy(settings.status_list_allowed_base_urls)
    status_client = guarded_client(policy)  # status lists fetched by the public verifier
    host.closers.append(status_client.aclose)
    host.http = create_http(settings, host.pool, host.readiness, context, status_client, fetch_policy=policy)
    return host
