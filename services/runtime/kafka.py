"""The Kafka producer every service uses for its outbox relay and dead letters."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from services.runtime.config import ServiceSettings


def create_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    """An idempotent producer (acks=all): broker-side retries never duplicate or reorder a
    partition's records (KIP-98), so the relay's order per key survives transient errors."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"credstream-{settings.service_name}-{settings.instance_id}",
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=30_000,
    )
