"""Crash points for the kill tests: the process SIGKILLs itself where a real crash would hurt."""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)


_hits: dict[str, int] = {}


def crash_point(configured: str | None, name: str) -> None:
    """SIGKILL this process if the test-only setting `fault_injection` names this point: `name`
    kills on the first pass, `name@N` on the N-th (to crash in the middle of a stream)."""
    if not configured:
        return
    point, _, nth = configured.partition("@")
    if point != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= (int(nth) if nth.isdigit() else 1):
        log.warning("fault injection: SIGKILL at %s", name)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)
