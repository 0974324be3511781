"""Error classes the runtime understands, and the classification of driver errors."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError


class DomainError(Exception):
    """A refusal with a stable, machine-readable `reason` and a message for people: the one root
    of every service's errors (docs/style.md, "Errors").

    The edges map it once: the consumer pipeline dead-letters a permanent one with `reason` as the
    `dlq.reason` header, an HTTP route answers a 4xx problem with `reason`. A `transient` one is a
    fault that goes away by itself: the pipeline retries the record in place and never
    dead-letters it.
    """

    transient: ClassVar[bool] = False

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class RetryableError(DomainError):
    """A transient fault of something the service depends on: retry in place, never dead-letter."""

    transient = True

    def __init__(self, message: str, *, reason: str = "unavailable") -> None:
        super().__init__(reason, message)


# Why these count as transient: they mean the server could not be reached or went away
# mid-transaction; the same record will succeed once PostgreSQL or Kafka is back.
_TRANSIENT: tuple[type[BaseException], ...] = (
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.InterfaceError,
    KafkaConnectionError,
    KafkaTimeoutError,
)


# PostgreSQL text cannot hold NUL, and the server refuses invalid code points. The contracts admit
# any string, so such a value is found only when a query binds it; it is the input's fault, never
# the database's: a 400 over HTTP, the dead-letter topic (`invalid_text`) on Kafka, no retries.
UNSTORABLE_TEXT: tuple[type[Exception], ...] = (
    asyncpg.exceptions.CharacterNotInRepertoireError,
    asyncpg.exceptions.UntranslatableCharacterError,
)


def is_transient(exc: BaseException) -> bool:
    """True for faults that go away by themselves (database or broker unavailable)."""
    return isinstance(exc, _TRANSIENT) or (isinstance(exc, DomainError) and exc.transient)
