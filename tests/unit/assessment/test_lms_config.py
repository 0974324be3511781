"""Per-LMS configuration: loading, the inline override, and refusing ambiguous directories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.assessment.domain import IngestRejected
from services.assessment.lms import LmsDirectory

ENTRY = {"lms_id": "a", "token": "token-a-0123456789", "source": "https://a.test", "issuer_id": "i"}


def test_the_inline_override_wins_over_the_file(tmp_path: Path) -> None:
    file = tmp_path / "lms.json"
    file.write_text(json.dumps({"lms": [ENTRY]}))
    inline = json.dumps({"lms": [{**ENTRY, "lms_id": "b"}]})
    assert LmsDirectory.load(path=file, inline=None).lms[0].lms_id == "a"
    assert LmsDirectory.load(path=file, inline=inline).lms[0].lms_id == "b"
    assert LmsDirectory.load(path=None, inline=None).lms == []


def test_lookups_by_token_and_source() -> None:
    directory = LmsDirectory.model_validate({"lms": [ENTRY]})
    assert directory.by_token("token-a-0123456789") is directory.lms[0]
    assert directory.by_token("token-a-012345678") is None
    assert directory.by_source("https://a.test").lms_id == "a"
    with pytest.raises(IngestRejected) as caught:
        directory.by_source("https://b.test")
    assert caught.value.reason_code == "lms_unknown"


@pytest.mark.parametrize(
    "second",
    [
        {**ENTRY, "lms_id": "b", "source": "https://b.test"},  # same token
        {**ENTRY, "token": "token-b-0123456789"},  # same id and source
        {**ENTRY, "lms_id": "b", "token": "short", "source": "https://b.test"},
    ],
    ids=["token", "id", "short-token"],
)
def test_ambiguous_or_weak_directories_are_refused(second: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        LmsDirectory.model_validate({"lms": [ENTRY, second]})
