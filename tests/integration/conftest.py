from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from deploy.local.runner import ROOT, SERVICES, Stack
from services.assessment.app import create_app
from services.issuance.app import create_app as create_issuance
from services.qa.app import create_app as create_qa
from services.revocation.app import create_app as create_revocation
from services.runtime.process import ServiceHost
from tests.fixtures.assessment import assessment_settings
from tests.fixtures.issuance import issuance_settings
from tests.fixtures.kafka import TopicWatcher, quiesced
from tests.fixtures.process import ServiceProcess
from tests.fixtures.qa import qa_settings
from tests.fixtures.revocation import revocation_settings

pytestmark = pytest.mark.integration

LMS_CONFIG = ROOT / "deploy" / "config" / "lms.json"


@pytest.fixture(scope="module")
def service_processes(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The four services as OS processes on the test stack (for tests whose requests are
    synchronous, or that must see a worker die, and so cannot share the test's event loop);
    name -> base URL. Their logs are in the module's temporary directory."""
    logs = tmp_path_factory.mktemp("services")
    procs = [ServiceProcess(stack, spec.name, logs / f"{spec.name}.log") for spec in SERVICES]
    for proc in procs:
        # The public rate limit off: the fuzzers send hostile requests as fast as they can, and
        # the limit has its own test (test_http_tenancy.py).
        proc.start(**{f"{proc.spec.env_prefix}PUBLIC_RATE_PER_S": "0"})
    try:
        for proc in procs:
            asyncio.run(proc.ready())
        yield {spec.name: f"http://127.0.0.1:{stack.ports[spec.name]}" for spec in SERVICES}
        asyncio.run(quiesced(stack.kafka_admin(), stack.database_url()))
    finally:
        for proc in procs:
            proc.stop()


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
