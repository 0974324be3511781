from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from deploy.local.runner import ROOT, Stack
from services.assessment.app import create_app
from services.issuance.app import create_app as create_issuance
from services.qa.app import create_app as create_qa
from services.revocation.app import create_app as create_revocation
from services.runtime.process import ServiceHost
from tests.fixtures.assessment import assessment_settings
from tests.fixtures.issuance import issuance_settings
from tests.fixtures.kafka import TopicWatcher
from tests.fixtures.qa import qa_settings
from tests.fixtures.revocation import revocation_settings

pytestmark = pytest.mark.integration

LMS_CONFIG = ROOT / "deploy" / "config" / "lms.json"


@pytest.fixture(scope="module")
async def assessment(stack: Stack) -> AsyncIterator[ServiceHost]:
    """The assessment service running in this process against the real test stack.

    Module-scoped: modules that kill service processes must not share the consumer group with
    an in-process instance, so each module starts and stops its own.
    """
    # The LMSs of deploy/config/lms.json, as the local stack's assessment service has them.
    host = await create_app(assessment_settings(stack, lms_config_file=LMS_CONFIG))
    await host.start()
    yield host
    await host.stop()


@pytest.fixture(scope="module")
async def revocation(stack: Stack) -> AsyncIterator[ServiceHost]:
    """The revocation service in this process (module-scoped): it reserves the status list
    indexes every issued credential needs and publishes the lists."""
    host = await create_revocation(revocation_settings(stack))
    await host.start()
    yield host
    await host.stop()


@pytest.fixture(scope="module")
async def issuance(stack: Stack, revocation: ServiceHost) -> AsyncIterator[ServiceHost]:
    """The issuance service running in this process against the real test stack (module-scoped,
    like `assessment`), with the revocation service it depends on for status list indexes."""
    host = await create_issuance(issuance_settings(stack))
    await host.start()
    yield host
    await host.stop()


@pytest.fixture(scope="module")
async def qa(stack: Stack) -> AsyncIterator[ServiceHost]:
    """The QA service running in this process against the real test stack (module-scoped, like
    `assessment`); its expiry sweep runs every half second so expiry tests stay short."""
    host = await create_qa(qa_settings(stack, expiry_check_interval_s=0.5))
    await host.start()
    yield host
    await host.stop()


@pytest.fixture
async def db(stack: Stack) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(
        stack.database_url("assessment"), server_settings={"search_path": "assessment"}
    )
    yield conn
    await conn.close()


@pytest.fixture
async def watch(stack: Stack) -> AsyncIterator[object]:
    watchers: list[TopicWatcher] = []

    async def start(topic: str) -> TopicWatcher:
        watcher = await TopicWatcher(stack.kafka(), topic).start()
        watchers.append(watcher)
        return watcher

    yield start
    for w in watchers:
        await w.stop()
