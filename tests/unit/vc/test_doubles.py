"""The canonical lexical form of xsd:double (vc/jsonld.py `canonical_double`)."""

from __future__ import annotations

import math
import re
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from vc.jsonld import canonical_double


def test_an_exact_tie_rounds_up_as_javascript_does() -> None:
    # 2^-24 = 5.9604644775390625e-8 exactly: a tie at 15 decimals. ECMAScript's
    # Number.prototype.toExponential picks the larger candidate (what jsonld.js, and so Digital
    # Bazaar's verifier, writes); Python's "%1.15E" rounds it to even ("...062E-8").
    assert canonical_double(2.0**-24) == "5.960464477539063E-8"
    assert canonical_double(-(2.0**-24)) == "-5.960464477539063E-8"
    assert f"{2.0**-24:1.15E}" == "5.960464477539062E-08"


def test_known_forms() -> None:
    assert canonical_double(5.3) == "5.3E0"
    assert canonical_double(0.1) == "1.0E-1"
    assert canonical_double(1e21) == "1.0E21"
    assert canonical_double(5e-324) == "4.940656458412465E-324"
    assert canonical_double(0.0) == "0.0E0"


@given(st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: v != 0))
def test_off_ties_it_is_the_usual_fifteen_decimal_form(value: float) -> None:
    exact = abs(Decimal(value))
    digits = exact.scaleb(-exact.adjusted() + 15)  # the mantissa scaled to 15 decimals
    tie = digits - math.floor(digits) == Decimal("0.5")
    expected = re.sub(r"(\d)0*E\+?(-)?0*(\d)", r"\1E\2\3", f"{value:1.15E}")
    assert tie or canonical_double(value) == expected
