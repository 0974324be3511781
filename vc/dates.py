"""Reading the date-times credentials carry (`validFrom`, `validUntil`, a proof's `created`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def parse_datetime(value: Any) -> datetime | None:
    """A credential's date-time as an aware datetime (no offset: UTC), or None when the value is
    missing or is not an ISO 8601 date-time; callers decide whether that is an error."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
