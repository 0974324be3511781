"""Dead-letter publishing: the original record, byte for byte, plus why it was refused."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer, ConsumerRecord

from contracts.topics import (
    DLQ_CONSUMER_GROUP,
    DLQ_ERROR_CLASS,
    DLQ_ERROR_MESSAGE,
    DLQ_FAILED_AT,
    DLQ_REASON,
    DLQ_SOURCE_OFFSET,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_TOPIC,
    dead_letter_topic,
)
from services.runtime.errors import is_transient
from services.runtime.telemetry import metrics

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000


class DeadLetterPublisher:
    """Writes refused records to the consumer group's dead-letter topic."""

    def __init__(self, producer: AIOKafkaProducer, *, service: str) -> None:
        self._producer = producer
        self.topic = dead_letter_topic(service)

    async def publish(
        self, record: ConsumerRecord[bytes, bytes], *, group: str, reason: str, error: BaseException
    ) -> None:
        """Publish and wait for the broker's acknowledgement; the caller acks the source record
        only after this returns, so a refused record is never lost. Retries while the broker is
        unreachable (that is not the record's fault)."""
        message = str(error)[:MAX_MESSAGE_CHARS]
        headers = [
            *(record.headers or ()),
            (DLQ_REASON, reason.encode()),
            (DLQ_ERROR_CLASS, type(error).__name__.encode()),
            (DLQ_ERROR_MESSAGE, message.encode("utf-8", "replace")),
            (DLQ_SOURCE_TOPIC, record.topic.encode()),
            (DLQ_SOURCE_PARTITION, str(record.partition).encode()),
            (DLQ_SOURCE_OFFSET, str(record.offset).encode()),
            (DLQ_CONSUMER_GROUP, group.encode()),
            (DLQ_FAILED_AT, datetime.now(UTC).isoformat().encode()),
        ]
        delay = 0.2
        while True:
            try:
                await self._producer.send_and_wait(
                    self.topic, value=record.value, key=record.key, headers=headers
                )
                break
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("dead-letter publish failed (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        metrics().dead_lettered.add(1, {"reason": reason, "group": group})
        log.warning(
            "dead-lettered %s[%d]@%d: %s: %s",
            record.topic,
            record.partition,
            record.offset,
            reason,
            message,
            extra={"reason": reason, "topic": record.topic},
        )
