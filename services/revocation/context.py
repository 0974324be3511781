"""The composition root's context factory, as the Kafka handlers and the HTTP routes see it.

`services/revocation/app.py` builds it once; each handler or route calls it with its transaction's
connection, so the use case's outbox writes in that transaction.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from services.revocation.service import RevocationContext

ContextFactory = Callable[[asyncpg.Connection], RevocationContext]
