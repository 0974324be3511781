"""Error classes the runtime understands, and the classification of driver errors."""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError


class PermanentError(Exception):
    """Processing this record can never succeed: it goes to the dead-letter topic."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class RetryableError(Exception):
    """A transient fault: retry in place, never dead-letter."""


# Why these count as transient: they mean the server could not be reached or went away
# mid-transaction; the same record will succeed once PostgreSQL or Kafka is back.
_TRANSIENT: tuple[type[BaseException], ...] = (
    RetryableError,
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
    return isinstance(exc, _TRANSIENT)
