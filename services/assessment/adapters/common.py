"""What the adapters share: the normalised result, and small checked readers of JSON values."""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contracts.v1.assessment import AssessmentResultSubmitted
from services.assessment.domain import IngestRejected

# uuid5 namespace of result ids derived from payloads that carry none (an xAPI statement sent
# without `id`, an LTI score): the same payload always yields the same id, so a re-send dedups.
DERIVED_ID_NAMESPACE = uuid.UUID("0b7f6c1e-52a4-5c1d-9e3b-7a6c2f1d4e80")


@dataclass(frozen=True, slots=True)
class Normalised:
    """One assessment result in credstream's contract, with the foreign payload it came from."""

    result: AssessmentResultSubmitted
    raw: bytes
    source_format: str


def reject(reason: str, detail: str) -> IngestRejected:
    return IngestRejected(reason, detail)


def obj(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        raise reject("missing_field", f"{where} is required")
    if not isinstance(value, dict):
        raise reject("wrong_type", f"{where} must be a JSON object, not {_kind(value)}")
    return value


def text(value: Any, where: str, *, required: bool = True) -> str | None:
    if value is None:
        if required:
            raise reject("missing_field", f"{where} is required")
        return None
    if not isinstance(value, str):
        raise reject("wrong_type", f"{where} must be a string, not {_kind(value)}")
    if not value or len(value) > 512:
        raise reject("invalid_value", f"{where} must be 1 to 512 characters")
    return value


def req_text(value: Any, where: str) -> str:
    found = text(value, where)
    assert found is not None
    return found


def number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise reject("wrong_type", f"{where} must be a finite number, not {_kind(value)}")
    return float(value)


def flag(value: Any, where: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise reject("wrong_type", f"{where} must be true or false, not {_kind(value)}")


def iri(value: Any, where: str) -> str:
    found = req_text(value, where)
    scheme, colon, rest = found.partition(":")
    if not colon or not scheme or not rest or not scheme[0].isalpha():
        raise reject("invalid_value", f"{where} must be an IRI (scheme:...), got {found[:100]!r}")
    return found


def timestamp(value: Any, where: str, *, default: datetime | None = None) -> datetime:
    """An ISO 8601 / RFC 3339 timestamp; one without an offset is read as UTC."""
    if value is None:
        if default is not None:
            return default
        raise reject("missing_field", f"{where} is required")
    if not isinstance(value, str):
        raise reject("wrong_type", f"{where} must be an ISO 8601 string, not {_kind(value)}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise reject("invalid_value", f"{where} {value[:60]!r} is not an ISO 8601 timestamp") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def scaled(given: float, maximum: float, where: str, minimum: float = 0.0) -> float:
    if maximum <= minimum:
        raise reject("invalid_value", f"{where}: the maximum must be above the minimum")
    if given < minimum or given > maximum:
        raise reject("invalid_value", f"{where}: {given} is outside [{minimum}, {maximum}]")
    return (given - minimum) / (maximum - minimum)


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(DERIVED_ID_NAMESPACE, "\x1f".join(parts)))


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else "null"
    )
