"""Benchmark: a realistic LMS stream (the CLI's simulator) through the whole running platform.

    deploy/local/up                                   # the platform (default profile), seeded
    .venv/bin/python -m bench.simulated_lms --learners 2000

Generates passes, fails, re-takes, duplicates and malformed records for the seeded issuer's
achievements (criteria read from the issuance API), publishes them, and waits until every
expected `achievement.earned` and dead letter has arrived. Prints the send rate, the time until
the platform had processed everything, and whether the observed counts match the generated ones.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from deploy.cli.endpoints import Endpoints
from deploy.cli.simulation import SimulationOptions, comparison, lms_principal, load_rules, make_plan
from deploy.cli.streams import RunObserver, publish_plan


async def run(endpoints: Endpoints, options: SimulationOptions) -> bool:
    rules = await load_rules(endpoints, options)
    simulation = make_plan(rules, options)
    observer = await RunObserver(endpoints.operator_kafka(), simulation).start()
    try:
        started = time.perf_counter()
        sent = await publish_plan(simulation, endpoints.kafka_as(lms_principal(options)))
        published = time.perf_counter()
        observed = await observer.until_settled(simulation, within_s=options.within_s, settle_s=0)
        processed = time.perf_counter()
    finally:
        await observer.stop()
    result = comparison(simulation, observed)
    mix = ", ".join(f"{result[k]} {k}" for k in ("passes", "fails", "retakes", "duplicates", "malformed"))
    print(f"records: {sent} ({mix}) for {result['learners']} learners")
    print(f"published in {published - started:.2f} s ({sent / (published - started):,.0f} records/s)")
    print(
        f"processed in {processed - started:.2f} s ({sent / (processed - started):,.0f} records/s end to end)"
    )
    print(f"earned: expected {result['expected_earned']}, observed {result['observed_earned']};"
          f" dead letters: expected {result['expected_dlq']}, observed {result['observed_dlq']}")  # fmt: skip
    print("match" if result["match"] else "MISMATCH")
    return bool(result["match"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="default")
    parser.add_argument("--issuer", default="open-university")
    parser.add_argument("--learners", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--within", type=float, default=300.0, help="seconds to wait for the platform")
    args = parser.parse_args()
    endpoints = Endpoints.resolve(args.profile)
    options = SimulationOptions(
        issuer_id=args.issuer, learners=args.learners, seed=args.seed, within_s=args.within, settle_s=0
    )
    raise SystemExit(0 if asyncio.run(run(endpoints, options)) else 1)


if __name__ == "__main__":
    main()
