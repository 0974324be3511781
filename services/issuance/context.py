"""The composition root's context factory, as the Kafka handlers and the HTTP routes see it.

`services/issuance/app.py` builds it once; each handler or route calls it with its transaction's
connection, so the use case's outbox and status index pool write in that transaction.
"""

from __future__ import annotations

from typing import Protocol

import asyncpg

from services.issuance.service import IssuanceContext
from services.issuance.status import FreeIndexGauge
from services.runtime.outbox import TraceOf


class ContextFactory(Protocol):
    def __call__(
        self,
        conn: asyncpg.Connection,
        *,
        trace_of: TraceOf | None = None,
        gauge: FreeIndexGauge | None = None,
    ) -> IssuanceContext:
        """The use cases' context on `conn`. `trace_of` gives an outgoing event the trace of the
        record that caused it (batches); `gauge` is the consumer's memory of the status pools
        (without one, every take counts the pool)."""
        ...
