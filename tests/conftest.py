"""Test fixtures: the real local stack (profile `test`), an in-memory span exporter, helpers.

Integration tests run against the real Apache Kafka broker and PostgreSQL server that
`deploy/local` starts on the `test` profile's ports, so they can run beside a running platform.
If the test stack is already up (e.g. `python -m deploy.local.runner infra --profile test`), it is
reused and left running; otherwise it is started here and stopped at the end.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, settings
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from deploy.local import runner

# Hypothesis profiles. `ci` (the default, used by tests/run) is derandomized with a fixed example
# budget, so every run tries the same inputs and the fuzz tests stay within a few minutes on two
# cores; `long` is for local bug hunting (docs/testing.md): random seeds, ten times the examples.
# Tests that set their own `max_examples` scale it with `fuzz_examples`.
settings.register_profile(
    "ci", derandomize=True, max_examples=100, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)  # fmt: skip
settings.register_profile(
    "long", max_examples=1000, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)  # fmt: skip
settings.register_profile("dev", max_examples=20, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SPANS = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(SPANS))
trace.set_tracer_provider(_provider)


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    return SPANS


@pytest.fixture(scope="session")
def stack() -> Iterator[runner.Stack]:
    stack = runner.Stack.for_profile(os.environ.get("CREDSTREAM_TEST_PROFILE", "test"))
    already_up = runner.alive(stack.pids.get("kafka")) and runner.port_open(stack.ports["kafka"])
    runner.up(stack, services=False)
    yield stack
    if not already_up and not os.environ.get("CREDSTREAM_KEEP_STACK"):
        runner.down(stack)


@pytest.fixture(scope="session")
async def producer(stack: runner.Stack) -> AsyncIterator[AIOKafkaProducer]:
    """A producer playing the platform and its outside parties at once: the super user (tests
    of each principal's own rights are in tests/integration/test_kafka_acls.py)."""
    producer = AIOKafkaProducer(**stack.kafka_admin().client_options(), acks="all", enable_idempotence=True)
    await producer.start()
    yield producer
    await producer.stop()
