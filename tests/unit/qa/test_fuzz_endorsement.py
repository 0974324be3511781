"""JSON-LD crafted to blow up canonicalization, as a QA agency could submit it.

The documents name the agency's registered key, so verification reaches JSON-LD expansion and
RDFC-1.0 (a foreign key would be refused before). Before `DocumentLimits`, 10,000 `evidence`
entries (420 KB) took 30 s in pyld's expansion and 25,000 (1 MiB) four and a half minutes; now each
is refused as `canonicalization_limit` at once, and documents within the bounds still verify.
"""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.qa.domain import Agency, QaRejected
from services.qa.endorsement import verify_signature
from tests.fixtures.fuzz import budget
from tests.fixtures.qa import AgencyScenario
from vc.jsonld import DEFAULT_DOCUMENT_LIMITS

AGENCY = AgencyScenario()
REGISTERED = Agency(**AGENCY.registration())
SIGNED = AGENCY.endorse("urn:credstream:issuer:fuzz", attestationAction="grant", decision="accredited")


def _evidence(i: int, same: bool) -> dict[str, Any]:
    return {"type": ["Evidence"]} if same else {"type": ["Evidence"], "narrative": f"n{i}"}


@st.composite
def poisoned(draw: st.DrawFn) -> dict[str, Any]:
    """The signed endorsement with a hostile addition: many (look-alike) blank nodes, a deep
    chain of nested nodes, or one huge array."""
    document = copy.deepcopy(SIGNED)
    kind = draw(st.sampled_from(["blank_nodes", "nested", "huge_array"]))
    if kind == "blank_nodes":
        n = draw(st.integers(min_value=DEFAULT_DOCUMENT_LIMITS.max_values // 2, max_value=30_000))
        same = draw(st.booleans())
        document["evidence"] = [_evidence(i, same) for i in range(n)]
    elif kind == "nested":
        node: dict[str, Any] = {"type": ["Evidence"], "narrative": "leaf"}
        for i in range(draw(st.integers(min_value=DEFAULT_DOCUMENT_LIMITS.max_depth, max_value=190))):
            node = {"type": ["Evidence"], "narrative": str(i), "evidence": [node]}
        document["evidence"] = [node]
    else:
        document["credentialSubject"]["qualityAssurance"]["scopeField"] = ["x"] * draw(
            st.integers(min_value=DEFAULT_DOCUMENT_LIMITS.max_values, max_value=200_000)
        )
    return document


@settings(max_examples=budget(30))
@given(document=poisoned())
def test_a_poisoned_endorsement_is_refused_quickly_with_a_precise_reason(document: dict[str, Any]) -> None:
    started = time.perf_counter()
    with pytest.raises(QaRejected) as refused:
        verify_signature(document, REGISTERED, now=datetime.now(UTC))
    assert refused.value.reason == "canonicalization_limit", str(refused.value)
    assert "CANONICALIZATION_LIMIT" in str(refused.value)
    assert time.perf_counter() - started < 1.0


@settings(max_examples=budget(10))
@given(n=st.integers(min_value=1, max_value=40))
def test_endorsements_within_the_bounds_still_verify_their_signature(n: int) -> None:
    """Extra evidence inside the bounds is canonicalized (and, being unsigned, breaks the signature:
    refused as signature_invalid, never as a limit); the signed document itself verifies."""
    verify_signature(SIGNED, REGISTERED, now=datetime.now(UTC))
    document = copy.deepcopy(SIGNED)
    document["evidence"] = [_evidence(i, same=False) for i in range(n)]
    with pytest.raises(QaRejected) as refused:
        verify_signature(document, REGISTERED, now=datetime.now(UTC))
    assert refused.value.reason == "signature_invalid"
