"""Rate limits on the public HTTP endpoints: one token bucket per client address, in process.

Public endpoints (DID documents, status lists, verification, the QA register) need no token, so
the client address is the only thing to limit by. In process and per instance on purpose: it is a
guard against one client flooding one instance, not a quota; a deployment behind a proxy limits
there as well. Authenticated endpoints are not limited here (their callers are known).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from fastapi import Request

from services.runtime.http import Problem


class TokenBucketLimiter:
    """`rate_per_s` tokens a second per client, at most `burst` saved up; `rate_per_s <= 0` turns
    limiting off. At most `max_clients` buckets are kept (least recently seen dropped first), so a
    scan from many addresses cannot grow memory without bound."""

    def __init__(self, rate_per_s: float, burst: int, *, max_clients: int = 50_000) -> None:
        self.rate = rate_per_s
        self.burst = max(1, burst)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, client: str, now: float | None = None) -> float:
        """Take one token for `client`: 0.0 when allowed, else the seconds until one is available."""
        if not self.enabled:
            return 0.0
        moment = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(client, (float(self.burst), moment))
        tokens = min(float(self.burst), tokens + (moment - last) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens, moment)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


PublicGuard = Callable[[Request], Awaitable[None]]


def public_dependency(limiter: TokenBucketLimiter) -> PublicGuard:
    """The dependency every public route carries: 429 problem+json with `Retry-After` (whole
    seconds, rounded up) when the client's bucket is empty."""

    async def rate_limited(request: Request) -> None:
        client = request.client.host if request.client else "unknown"
        wait = limiter.take(client)
        if wait > 0:
            raise Problem(
                429,
                "Too many requests",
                f"the public endpoints allow {limiter.rate:g} requests a second per client",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
                reason="rate_limited",
            )

    rate_limited.credstream_public = True  # type: ignore[attr-defined]
    return rate_limited
