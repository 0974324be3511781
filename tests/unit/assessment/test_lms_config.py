"""Per-LMS configuration: loading, the inline override, and refusing ambiguous directories."""

from __future__ import annotations

import hashlib
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
    assert caught.value.reason == "lms_unknown"


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


def test_a_token_may_be_configured_as_its_digest_only() -> None:
    hashed = {**ENTRY, "token_sha256": hashlib.sha256(b"token-a-0123456789").hexdigest()}
    del hashed["token"]
    directory = LmsDirectory.model_validate({"lms": [hashed]})
    assert directory.by_token("token-a-0123456789") is directory.lms[0]
    assert directory.by_token(hashed["token_sha256"]) is None  # the digest is not the token
    with pytest.raises(ValidationError, match="exactly one"):
        LmsDirectory.model_validate({"lms": [{**ENTRY, "token_sha256": hashed["token_sha256"]}]})
    with pytest.raises(ValidationError, match="share one token"):
        LmsDirectory.model_validate({"lms": [ENTRY, {**hashed, "lms_id": "b", "source": "https://b.test"}]})
