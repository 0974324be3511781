"""Define issuers and achievements from a JSON file through the issuance admin API.

    python -m deploy.tools.seed [--url http://127.0.0.1:8082] [--token TOKEN] [FILE]

FILE defaults to deploy/config/seed/issuance.json ({"issuers": [...], "achievements": [...]}, the
bodies of `PUT /admin/issuers/{id}` and `PUT /admin/achievements/{id}`). The issuance service
publishes each definition on `achievement.defined`, so the assessment service learns its criteria
from the one place achievements are defined. Seeding twice changes nothing (unchanged definitions
keep their revision).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

import httpx

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "config" / "seed" / "issuance.json"
DEFAULT_TOKEN = "dev-issuance-admin-token"


async def seed(base_url: str, path: Path, *, token: str | None = None) -> tuple[int, int]:
    data = json.loads(path.read_text())  # noqa: ASYNC240 (a small file, read once at start)
    headers = {"Authorization": f"Bearer {token or os.environ.get('ISSUANCE_ADMIN_TOKEN', DEFAULT_TOKEN)}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
        for issuer in data.get("issuers", []):
            response = await client.put(f"/admin/issuers/{issuer['issuer_id']}", json=issuer)
            response.raise_for_status()
        for achievement in data.get("achievements", []):
            response = await client.put(
                f"/admin/achievements/{achievement['achievement_id']}", json=achievement
            )
            if response.is_error:
                raise SystemExit(f"achievement {achievement['achievement_id']}: {response.text}")
    return len(data.get("issuers", [])), len(data.get("achievements", []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8082", help="the issuance service")
    parser.add_argument("--token", default=None, help="admin token (default: $ISSUANCE_ADMIN_TOKEN)")
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE)
    args = parser.parse_args(argv)
    issuers, achievements = asyncio.run(seed(args.url, args.file, token=args.token))
    print(f"issuers: {issuers}, achievements: {achievements}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
