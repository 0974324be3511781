"""Create every topic of the contract registry (idempotent).

KAFKA_USERNAME=admin KAFKA_PASSWORD=... python -m deploy.tools.topics --bootstrap-servers 127.0.0.1:9092
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.topics import DEAD_LETTER_TOPICS, EVENT_TOPICS
from services.runtime.kafka import KafkaAccess


def desired_topics(replication_factor: int) -> list[NewTopic]:
    topics = [
        NewTopic(
            name=t.name,
            num_partitions=t.partitions,
            replication_factor=replication_factor,
            topic_configs={"cleanup.policy": "compact" if t.compacted else "delete", **t.config},
        )
        for t in EVENT_TOPICS
    ]
    # Dead letters are kept for 30 days: long enough to inspect, fix and replay.
    topics += [
        NewTopic(
            name=name,
            num_partitions=1,
            replication_factor=replication_factor,
            topic_configs={"retention.ms": str(30 * 24 * 3600 * 1000)},
        )
        for name in DEAD_LETTER_TOPICS
    ]
    return topics


async def create_topics(access: KafkaAccess, *, replication_factor: int = 1) -> list[str]:
    """Create missing topics (as the provisioning super user); returns the names created."""
    admin = AIOKafkaAdminClient(**access.client_options(), client_id="credstream-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in desired_topics(replication_factor) if t.name not in existing]
        if missing:
            await admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:9092")
    parser.add_argument("--replication-factor", type=int, default=1)
    args = parser.parse_args(argv)
    access = KafkaAccess.from_env(args.bootstrap_servers)
    created = asyncio.run(create_topics(access, replication_factor=args.replication_factor))
    print(f"topics created: {len(created)}" + (f" ({', '.join(created)})" if created else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
