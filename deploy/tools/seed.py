"""Publish achievement definitions from a JSON file (the foundation's operator seed).

    python -m deploy.tools.seed --bootstrap-servers 127.0.0.1:9092 [FILE]

FILE defaults to deploy/config/seed/achievements.json.

Definitions are `achievement.defined` events; the assessment service keeps its own copy. The
event id is derived from (achievement, revision), so seeding twice is harmless.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer

from contracts.topics import ACHIEVEMENT_DEFINITIONS
from contracts.v1.assessment import AchievementDefined
from deploy.tools.publish import publish_event

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "config" / "seed" / "achievements.json"
SOURCE = "urn:credstream:operator:seed"


def load(path: Path) -> list[AchievementDefined]:
    return [AchievementDefined.model_validate(d) for d in json.loads(path.read_text())]


async def seed(bootstrap_servers: str, path: Path) -> int:
    definitions = load(path)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for d in definitions:
            await publish_event(
                producer,
                ACHIEVEMENT_DEFINITIONS,
                d,
                key=d.achievement_id,
                source=SOURCE,
                event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{d.achievement_id}#{d.revision}")),
            )
    finally:
        await producer.stop()
    return len(definitions)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:9092")
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE)
    args = parser.parse_args(argv)
    count = asyncio.run(seed(args.bootstrap_servers, args.file))
    print(f"achievement definitions published: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
