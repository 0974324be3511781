"""The bounded fault suite: the whole platform (four service processes, the test stack's Kafka
broker and PostgreSQL server) under a steady mixed-format LMS stream with re-takes, duplicates,
malformed records and status changes, while each service is SIGKILLed at a random moment and
restarted, the broker and the database are restarted, and one consumer is paused past its
session timeout (evicted, then rejoins: a rebalance). deploy/tools/chaos.py drives it and checks,
from the databases, topics and the served status lists:

- every credential the simulator's results earn exists exactly once (database rows, and one
  event id per credential on credential.issued; redeliveries of the same event are counted
  apart), none is lost, none unexpected, and the revocation service registered each one;
- every status change is in the audit once and applied; the served lists agree with the audit;
- the dead-letter topics hold exactly the malformed records;
- every consumer group's lag returns to zero.

bench/chaos.py runs the same with larger numbers and every consumer paused, and prints the report.
"""

from __future__ import annotations

import pytest

from deploy.local.runner import Stack
from deploy.tools.chaos import SERVICE_NAMES, ChaosRun

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAULTS = [*(f"kill:{s}" for s in SERVICE_NAMES), "kafka", "postgres", "pause:issuance"]


async def test_every_credential_once_and_nothing_lost_under_crashes_and_restarts(stack: Stack) -> None:
    chaos = ChaosRun(stack, learners=40, seed=11, chunk_s=3.0, settle_within_s=180, faults=FAULTS)
    try:
        report = await chaos.run()
    finally:
        chaos.stop_services()
    assert [f.name for f in report.faults] and sorted(f.name for f in report.faults) == sorted(FAULTS)
    assert report.expected_credentials >= 10 and report.malformed_in >= 1 and report.status_requested >= 3
    assert report.problems() == [], report.render()
    assert report.duplicates == 0 and report.losses == 0
    assert report.credentials_db == report.credentials_on_topic == report.expected_credentials
    assert report.dlq == report.malformed_in
    assert report.lag == {"assessment": 0, "issuance": 0, "qa": 0, "revocation": 0}
