"""OpenTelemetry traces and metrics, and JSON logs that carry the trace id.

Trace context crosses Kafka in the W3C `traceparent` header: consumers continue the producer's
trace, the outbox stores the context of the transaction that wrote a row, and the relay's publish
span is its child, so one trace follows an assessment event to everything it caused.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from services.runtime.config import ServiceSettings

INSTRUMENTATION = "credstream"


@cache
def tracer() -> trace.Tracer:
    """credstream's tracer (a proxy until a provider is installed, then the provider's): looked
    up once, since `get_tracer` builds and compares an instrumentation scope on every call."""
    return trace.get_tracer(INSTRUMENTATION)


@dataclass(frozen=True)
class Metrics:
    consumed: otel_metrics.Counter
    duplicates: otel_metrics.Counter
    dead_lettered: otel_metrics.Counter
    published: otel_metrics.Counter
    processing_seconds: otel_metrics.Histogram
    batch_size: otel_metrics.Histogram
    batch_fallbacks: otel_metrics.Counter


@cache
def metrics() -> Metrics:
    meter = otel_metrics.get_meter(INSTRUMENTATION)
    return Metrics(
        consumed=meter.create_counter("credstream.events.consumed", unit="{event}"),
        duplicates=meter.create_counter("credstream.events.duplicates", unit="{event}"),
        dead_lettered=meter.create_counter("credstream.events.dead_lettered", unit="{event}"),
        published=meter.create_counter("credstream.events.published", unit="{event}"),
        processing_seconds=meter.create_histogram("credstream.event.processing.duration", unit="s"),
        batch_size=meter.create_histogram("credstream.consumer.batch.size", unit="{event}"),
        batch_fallbacks=meter.create_counter("credstream.consumer.batch.fallbacks", unit="{batch}"),
    )


def setup_telemetry(settings: ServiceSettings, *, span_exporter: SpanExporter | None = None) -> None:
    """Install tracer and meter providers (once per process) and configure logging."""
    configure_logging(settings)
    resource = Resource.create(
        {
            "service.name": f"credstream-{settings.service_name}",
            "service.instance.id": settings.instance_id,
        }
    )
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return  # already installed (tests install an in-memory exporter first)
    provider = TracerProvider(resource=resource)
    exporter = span_exporter or _span_exporter(settings)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    readers: list[MetricReader] = []
    if settings.otel_exporter == "console":
        readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter(), 30_000))
    elif settings.otel_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter(), 15_000))
    otel_metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))


def _span_exporter(settings: ServiceSettings) -> SpanExporter | None:
    if settings.otel_exporter == "console":
        return ConsoleSpanExporter(out=sys.stderr)
    if settings.otel_exporter == "otlp":
        # Endpoint and headers come from the standard OTEL_EXPORTER_OTLP_* variables.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    return None


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the current trace and span ids (times in UTC)."""

    converter = time.gmtime  # type: ignore[assignment]

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = f"{span.trace_id:032x}"
            entry["span_id"] = f"{span.span_id:016x}"
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        for key in ("service", "event_id", "topic", "reason"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        return json.dumps(entry, default=str)


def configure_logging(settings: ServiceSettings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # aiokafka and FastStream log every rebalance and message at INFO; keep them to warnings.
    for noisy in ("aiokafka", "faststream", "kafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
