"""Composition root of the assessment service: `create_app(settings)` wires everything once."""

from __future__ import annotations

from pathlib import Path

from services.assessment import handlers
from services.assessment.http import create_http
from services.assessment.settings import Settings
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
    host.http = create_http(settings, host.pool, host.readiness, publisher)
    return host
