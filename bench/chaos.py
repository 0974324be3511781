"""Chaos run with a printed report (deploy/tools/chaos.py): the whole platform under a steady LMS
stream while each service is SIGKILLed, the broker and the database restarted and each consumer
paused past its session timeout, `--rounds` times over, in random order.

    .venv/bin/python -m bench.chaos --learners 400 --rounds 2

Runs on the `chaos` profile by default (its own ports' overrides apply, data under var/chaos/),
starts what is not running and stops what it started. Exit 1 if any guarantee broke.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from deploy.local import runner
from deploy.tools.chaos import ChaosRun


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="chaos")
    parser.add_argument("--learners", type=int, default=400, help="simulated learners (about 5 records each)")
    parser.add_argument("--rounds", type=int, default=2, help="times every fault is injected")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--chunk-s", type=float, default=4.0, help="seconds of stream around each fault")
    parser.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    args = parser.parse_args(argv)
    stack = runner.Stack.for_profile(args.profile)
    was_up = runner.alive(stack.pids.get("kafka"))
    runner.up(stack, services=False)
    chaos = ChaosRun(
        stack,
        learners=args.learners,
        rounds=args.rounds,
        seed=args.seed,
        chunk_s=args.chunk_s,
        log=lambda m: print(f"[chaos] {m}", flush=True),
    )
    try:
        report = asyncio.run(chaos.run())
    finally:
        if not args.keep:
            chaos.stop_services()
            if not was_up:
                runner.down(stack)
    print(report.render())
    problems = report.problems()
    print("problems: " + ("; ".join(problems) if problems else "none"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
