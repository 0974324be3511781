"""HTTP principals' tokens: generate them for a stack, or hash one for a hand-written config.

    python -m deploy.tools.principals generate DIR   # DIR/secrets/http-tokens.json, DIR/http-principals.json
    python -m deploy.tools.principals compose-env DIR  # the same, then .env lines for docker compose
    python -m deploy.tools.principals hash             # reads a token on stdin, prints its SHA-256

deploy/config/http-principals.json declares the principals (id, role, issuer_id / agency_id) and
holds no secret. For each principal a random token (256 bits, URL-safe) is generated once and kept
in DIR/secrets/http-tokens.json; the services read DIR/http-principals.json, the declaration plus
the SHA-256 of each token. The local runner does this for every stack (DIR = var/<profile>).
A principal added to the declaration later gets its token on the next run; existing ones keep theirs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import sys
from pathlib import Path

DECLARED = Path(__file__).resolve().parents[1] / "config" / "http-principals.json"


def tokens_file(directory: Path) -> Path:
    return directory / "secrets" / "http-tokens.json"


def principals_file(directory: Path) -> Path:
    return directory / "http-principals.json"


def hashed_principals(tokens: dict[str, str], declared: Path = DECLARED) -> dict[str, list[dict[str, str]]]:
    principals = json.loads(declared.read_text())["principals"]
    return {
        "principals": [
            {**p, "token_sha256": hashlib.sha256(tokens[p["id"]].encode()).hexdigest()} for p in principals
        ]
    }


def ensure_tokens(directory: Path, declared: Path = DECLARED) -> dict[str, str]:
    """Principal id -> token for `directory`, generating what is missing (files written 0600/0644)."""
    ids = [p["id"] for p in json.loads(declared.read_text())["principals"]]
    path = tokens_file(directory)
    tokens: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [pid for pid in ids if pid not in tokens]
    if missing or not principals_file(directory).exists():
        tokens |= {pid: secrets.token_urlsafe(32) for pid in missing}
        path.parent.mkdir(parents=True, exist_ok=True)
        old = os.umask(0o077)
        try:
            path.write_text(json.dumps(tokens, indent=2))
        finally:
            os.umask(old)
        principals_file(directory).write_text(json.dumps(hashed_principals(tokens, declared), indent=2))
    return tokens


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["generate", "compose-env", "hash"])
    parser.add_argument("directory", nargs="?", type=Path, default=Path("var/compose"))
    args = parser.parse_args(argv)
    if args.command == "hash":
        print(hashlib.sha256(sys.stdin.readline().strip().encode()).hexdigest())
        return 0
    tokens = ensure_tokens(args.directory)
    if args.command == "generate":
        print(f"tokens in {tokens_file(args.directory)}, principals in {principals_file(args.directory)}")
        return 0
    compact = json.dumps(json.loads(principals_file(args.directory).read_text()), separators=(",", ":"))
    print(f"CREDSTREAM_HTTP_PRINCIPALS='{compact}'")
    print(f"CREDSTREAM_OPERATOR_TOKEN={tokens['operator']}")
    print(f"CREDSTREAM_REVOCATION_SERVICE_TOKEN={tokens['revocation-service']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
