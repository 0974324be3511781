"""Composition root of the QA service: `create_app(settings)` wires everything once."""

from __future__ import annotations

from pathlib import Path

from services.qa import handlers
from services.qa.http import create_http
from services.qa.settings import Settings
from services.runtime.outbox import Publisher
from services.runtime.process import ServiceHost, assemble_host

MIGRATIONS = Path(__file__).parent / "migrations"


async def create_app(settings: Settings) -> ServiceHost:
    publisher = Publisher(source=settings.event_source)
    host = await assemble_host(
        settings,
        migrations=MIGRATIONS,
        register=lambda broker, pipeline: handlers.register(broker, pipeline, settings, publisher),
    )
    host.background.append(("qa-expiry", lambda: handlers.sweep_expired(host.pool, settings, publisher)))
    host.http = create_http(settings, host.pool, host.readiness)
    return host
