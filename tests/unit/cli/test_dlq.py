"""`credstream dlq`: which dead letters a selection takes, and what a replay sends."""

from __future__ import annotations

from datetime import UTC, datetime

from deploy.cli.dlq import DeadLetter, Selection


def letter(
    offset: int, *, reason: str = "lms_unknown", failed_at: str = "2026-12-02T05:00:00+00:00"
) -> DeadLetter:
    return DeadLetter(
        topic="credstream.dlq.assessment.v1",
        partition=1,
        offset=offset,
        key=b"k",
        value=b"{}",
        headers=(
            ("ce_id", b"id-1"),
            ("ce_source", b"https://lms.example"),
            ("dlq.replayed_from", b"credstream.dlq.assessment.v1:0:3"),  # refused again after a replay
            ("dlq.reason", reason.encode()),
            ("dlq.source_topic", b"credstream.lms.xapi.v1"),
            ("dlq.failed_at", failed_at.encode()),
        ),
    )


def test_every_given_filter_must_match() -> None:
    d = letter(7)
    assert Selection().matches(d)
    assert Selection(reasons=("lms_unknown",), source_topic="credstream.lms.xapi.v1").matches(d)
    assert not Selection(reasons=("malformed_json",)).matches(d)
    assert Selection(from_offset=7, to_offset=7, partition=1).matches(d)
    assert not Selection(from_offset=8).matches(d)
    assert not Selection(partition=0).matches(d)
    assert Selection(since=datetime(2026, 12, 2, 4, tzinfo=UTC)).matches(d)
    assert not Selection(until=datetime(2026, 12, 2, 4, tzinfo=UTC)).matches(d)
    assert not Selection(event_ids=("id-2",)).matches(d)


def test_a_replay_sends_the_original_headers_only() -> None:
    d = letter(7)
    assert d.original_headers() == [("ce_id", b"id-1"), ("ce_source", b"https://lms.example")]
    assert d.coordinates == "credstream.dlq.assessment.v1:1:7"
    assert d.summary()["replay_of"] == "credstream.dlq.assessment.v1:0:3"


def test_an_unreadable_time_matches_no_time_filter() -> None:
    d = letter(1, failed_at="yesterday")
    assert d.failed_at is None
    assert not Selection(since=datetime(2026, 1, 1, tzinfo=UTC)).matches(d)
