"""Status list indexes from untrusted credentials: only canonical decimal strings within range."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.fixtures.fuzz import HOSTILE_INDEXES
from vc.status import MAX_INDEX, parse_index


@given(raw=st.one_of(st.text(max_size=30), st.integers().map(str), st.none(), st.integers(), HOSTILE_INDEXES))
def test_an_index_is_a_canonical_decimal_within_range_or_refused(raw: object) -> None:
    index = parse_index(raw)
    if index is not None:
        assert 0 <= index <= MAX_INDEX and str(index) == raw


@given(raw=HOSTILE_INDEXES)
def test_hostile_indexes_are_refused(raw: str) -> None:
    assert parse_index(raw) is None


def test_the_largest_index_is_accepted() -> None:
    assert parse_index(str(MAX_INDEX)) == MAX_INDEX and parse_index("0") == 0
