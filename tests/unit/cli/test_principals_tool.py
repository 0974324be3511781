"""deploy/tools/principals.py: tokens generated once per stack, only their digests for services."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from deploy.tools.principals import ensure_tokens, principals_file, tokens_file
from services.runtime.auth import PrincipalDirectory


def test_tokens_are_generated_once_private_and_only_hashed_for_services(tmp_path: Path) -> None:
    tokens = ensure_tokens(tmp_path)
    assert {"operator", "open-university-admin", "demo-qa-agency", "revocation-service"} <= set(tokens)
    assert all(len(t) >= 40 for t in tokens.values())
    assert stat.S_IMODE(tokens_file(tmp_path).stat().st_mode) == 0o600
    served = principals_file(tmp_path).read_text()
    assert not any(t in served for t in tokens.values())
    directory = PrincipalDirectory.load(path=principals_file(tmp_path), inline=None)
    operator = directory.by_token(tokens["operator"])
    assert operator is not None and operator.role == "operator"
    issuer = directory.by_token(tokens["open-university-admin"])
    assert issuer is not None and issuer.issuer_id == "open-university"
    assert ensure_tokens(tmp_path) == tokens, "a second run keeps the tokens"
    assert json.loads(served) == json.loads(principals_file(tmp_path).read_text())
