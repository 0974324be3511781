"""The documented bound on how long a poison record holds its partition (docs/operations.md)."""

from __future__ import annotations

import pytest

from services.assessment.settings import Settings
from services.runtime.messaging import poison_backoff_s


def settings(**values: object) -> Settings:
    return Settings(database_url="postgresql://x@127.0.0.1/x", **values)  # type: ignore[arg-type]


def test_the_defaults_pause_for_three_tenths_of_a_second() -> None:
    assert poison_backoff_s(settings()) == pytest.approx(0.1 + 0.2)


def test_pauses_double_and_stop_at_the_cap() -> None:
    s = settings(retry_attempts=6, retry_backoff_s=1.0, retry_backoff_max_s=5.0)
    assert poison_backoff_s(s) == pytest.approx(1 + 2 + 4 + 5 + 5)


def test_a_single_attempt_never_pauses() -> None:
    assert poison_backoff_s(settings(retry_attempts=1)) == 0.0
