from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.envelope import (
    CloudEventAttributes,
    EnvelopeError,
    headers_to_dict,
    parse_attributes,
)


def test_round_trip_through_kafka_headers() -> None:
    attrs = CloudEventAttributes(
        id="e-1",
        source="urn:lms:x",
        type="t",
        time=datetime(2026, 1, 1, tzinfo=UTC),
        subject="s",
        dataschema="urn:d",
    )
    assert parse_attributes(headers_to_dict(attrs.to_headers())) == attrs


@pytest.mark.parametrize("missing", ["ce_id", "ce_source", "ce_type", "ce_specversion"])
def test_each_required_attribute_is_required(missing: str) -> None:
    headers = dict(headers_to_dict(CloudEventAttributes(id="1", source="s", type="t").to_headers()))
    del headers[missing]
    with pytest.raises(EnvelopeError, match=missing):
        parse_attributes(headers)


def test_wrong_specversion_and_naive_time_are_refused() -> None:
    base = headers_to_dict(CloudEventAttributes(id="1", source="s", type="t").to_headers())
    with pytest.raises(EnvelopeError, match="specversion"):
        parse_attributes({**base, "ce_specversion": "0.3"})
    with pytest.raises(EnvelopeError, match="timezone"):
        parse_attributes({**base, "ce_time": "2026-01-01T00:00:00"})


@given(st.lists(st.tuples(st.text(max_size=20), st.binary(max_size=40)), max_size=12))
def test_arbitrary_headers_give_attributes_or_an_envelope_error(
    headers: list[tuple[str, bytes]],
) -> None:
    with contextlib.suppress(EnvelopeError):
        parse_attributes(headers_to_dict(headers))
