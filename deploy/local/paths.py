"""Where a local profile keeps its state, shared by the runner and the tools that read it (the seed
tool's default token), so neither needs to import the other."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def var_dir(profile: str) -> Path:
    """`var/<profile>/` under the checkout, or under `CREDSTREAM_VAR_DIR`."""
    return Path(os.environ.get("CREDSTREAM_VAR_DIR", ROOT / "var")) / profile
