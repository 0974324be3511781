"""Crash points for the kill tests: the process SIGKILLs itself where a real crash would hurt."""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)


def crash_point(configured: str | None, name: str) -> None:
    """SIGKILL this process if the test-only setting `fault_injection` names this point."""
    if configured == name:
        log.warning("fault injection: SIGKILL at %s", name)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)
