"""JSON Canonicalization Scheme (RFC 8785), used by the `eddsa-jcs-2022` cryptosuite.

Object members sorted by their UTF-16 code units, no insignificant whitespace, strings escaped as
ECMAScript's JSON.stringify does, and numbers in ECMAScript's shortest round-trip form.
"""

from __future__ import annotations

import json
import math
from typing import Any

_MAX_SAFE_INTEGER = 2**53 - 1


class JcsError(ValueError):
    """The value cannot be canonicalized (a non-finite or out-of-range number, a non-JSON type)."""


def canonicalize(value: Any) -> bytes:
    return _serialize(value).encode("utf-8")


def _serialize(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise JcsError(f"integer {value} is beyond IEEE 754 double precision")
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: key.encode("utf-16-be"))
        return "{" + ",".join(f"{_serialize(key)}:{_serialize(value[key])}" for key in keys) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_serialize(item) for item in value) + "]"
    raise JcsError(f"{type(value).__name__} is not a JSON value")


def _number(value: float) -> str:
    """ECMAScript Number::toString (ECMA-262 §6.1.6.1.20) for a finite double."""
    if not math.isfinite(value):
        raise JcsError("NaN and Infinity are not JSON numbers")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    text = repr(abs(value))  # shortest round-trip digits, like ECMAScript
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    point = len(whole) + (int(exponent) if exponent else 0) - (len(whole + fraction) - len(digits))
    digits = digits.rstrip("0")
    k, n = len(digits), point
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        exp = n - 1
        exp_text = ("+" if exp > 0 else "-") + str(abs(exp))
        body = (digits if k == 1 else digits[0] + "." + digits[1:]) + "e" + exp_text
    return sign + body
