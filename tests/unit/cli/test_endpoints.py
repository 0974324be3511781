"""Where the CLI connects: explicit values win, the rest come from the profile's ports."""

from __future__ import annotations

import pytest

from deploy.cli.endpoints import Endpoints
from deploy.cli.errors import UsageError
from deploy.cli.streams import resolve_topic
from deploy.local.runner import Stack


def test_flags_win_and_the_rest_follow_the_profile() -> None:
    ports = Stack.for_profile("test").ports
    endpoints = Endpoints.resolve("test", issuance_url="https://issuance.example", qa_token="secret")
    assert endpoints.issuance_url == "https://issuance.example"
    assert endpoints.revocation_url == f"http://127.0.0.1:{ports['revocation']}"
    assert endpoints.kafka == f"127.0.0.1:{ports['kafka']}"
    assert endpoints.qa_token == "secret"
    assert endpoints.revocation_token == Stack.for_profile("test").http_tokens()["operator"]
    one = Endpoints.resolve("test", token="issuer-token", qa_token="secret")
    tokens = (one.issuance_token, one.revocation_token, one.qa_token)
    assert tokens == ("issuer-token", "issuer-token", "secret")


def test_topics_resolve_by_full_or_short_name() -> None:
    assert resolve_topic("achievement.earned") == "credstream.achievement.earned.v1"
    assert resolve_topic("dlq.assessment") == "credstream.dlq.assessment.v1"
    assert resolve_topic("credstream.credential.status.v1") == "credstream.credential.status.v1"
    with pytest.raises(UsageError):
        resolve_topic("credential")
