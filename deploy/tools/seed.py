"""Define issuers and achievements from a JSON file through the issuance admin API, and a demo
QA agency with an attestation for the seeded issuer.

    python -m deploy.tools.seed [--url http://127.0.0.1:8082] [--token TOKEN] [FILE]
        [--qa-url http://127.0.0.1:8083 --kafka 127.0.0.1:9092 [--qa-file FILE]]

FILE defaults to deploy/config/seed/issuance.json ({"issuers": [...], "achievements": [...]}, the
bodies of `PUT /admin/issuers/{id}` and `PUT /admin/achievements/{id}`). The issuance service
publishes each definition on `achievement.defined`, so the assessment service learns its criteria
from the one place achievements are defined. Seeding twice changes nothing (unchanged definitions
keep their revision).

With `--qa-url`, deploy/config/seed/qa.json registers its agencies through the QA admin API and,
for each attestation listed that is not current yet, signs an EndorsementCredential with the
(development-only) agency key and publishes it as the agency would (deploy/tools/agency_attest.py);
then waits until the QA register shows it, so seeded issuers can issue at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from deploy.local.paths import var_dir
from deploy.tools.principals import ensure_tokens
from services.runtime.kafka import KafkaAccess

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "config" / "seed" / "issuance.json"
DEFAULT_QA_FILE = DEFAULT_FILE.with_name("qa.json")


async def seed(base_url: str, path: Path, *, token: str) -> tuple[int, int]:
    data = json.loads(path.read_text())  # noqa: ASYNC240 (a small file, read once at start)
    headers = {"Authorization": f"Bearer {token}"}
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


async def seed_qa(
    qa_url: str, agency_kafka: Callable[[str], KafkaAccess], path: Path, *, token: str
) -> tuple[int, int]:
    """Register the agencies and publish the attestations not current yet, each as its agency's
    Kafka principal (`agency_kafka(agency_id)`). Returns (agencies, attestations published)."""
    from deploy.tools.agency_attest import endorsement, submit

    data = json.loads(path.read_text())  # noqa: ASYNC240 (a small file, read once at start)
    headers = {"Authorization": f"Bearer {token}"}
    published = 0
    async with httpx.AsyncClient(base_url=qa_url, headers=headers, timeout=30) as client:
        for agency in data.get("agencies", []):
            (await client.put(f"/admin/agencies/{agency['agency_id']}", json=agency)).raise_for_status()
        for attestation in data.get("attestations", []):
            kind, _, subject_id = attestation["subject"].removeprefix("urn:credstream:").partition(":")
            query = {f"{kind}_id": subject_id}
            current = (await client.get("/register/attestations", params=query)).json()
            if any(a["agency_id"] == attestation["agency_id"] for a in current):
                continue
            # The QA service learns subjects from the definitions the issuance seed just published.
            await _until(client, f"/register/{kind}s/{subject_id}", {}, f"{kind} {subject_id} known to qa")
            key = data["agency_secret_keys"][attestation["agency_id"]]
            signed = endorsement(key, attestation["subject"], **attestation["qualityAssurance"])
            await submit(agency_kafka(attestation["agency_id"]), attestation["agency_id"], signed)
            published += 1
            await _until(client, "/register/attestations", query, f"attestation of {subject_id} accepted")
    return len(data.get("agencies", [])), published


async def _until(client: httpx.AsyncClient, path: str, params: dict[str, str], what: str) -> None:
    """Poll a QA register resource until it exists and is not empty."""
    for _ in range(240):
        response = await client.get(path, params=params)
        if response.status_code == 200 and response.json():
            return
        await asyncio.sleep(0.25)
    raise SystemExit(f"{what}: not there after 60 s; see the QA service's log")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8082", help="the issuance service")
    parser.add_argument(
        "--token",
        default=os.environ.get("CREDSTREAM_TOKEN"),
        help="an operator's token (default: $CREDSTREAM_TOKEN, else the local profile's operator token)",
    )
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--qa-url", default=None, help="the QA service (seeds the demo agency)")
    parser.add_argument("--kafka", default="127.0.0.1:9092", help="bootstrap servers (attestations)")
    parser.add_argument("--qa-file", type=Path, default=DEFAULT_QA_FILE)
    parser.add_argument(
        "--kafka-credentials", type=Path, help="credential store: publish as each agency's principal"
    )
    args = parser.parse_args(argv)
    if args.token is None:  # the local profile's operator token (generated by deploy/local/up)
        args.token = ensure_tokens(var_dir(os.environ.get("CREDSTREAM_PROFILE", "default")))["operator"]
    issuers, achievements = asyncio.run(seed(args.url, args.file, token=args.token))
    print(f"issuers: {issuers}, achievements: {achievements}")
    if args.qa_url:
        from deploy.tools.kafka_security import CredentialStore, load

        security = load()
        store = CredentialStore.open(args.kafka_credentials) if args.kafka_credentials else None

        def agency_kafka(agency_id: str) -> KafkaAccess:
            if store is None:  # KAFKA_USERNAME/KAFKA_PASSWORD: the (one) agency's own, or none
                return KafkaAccess.from_env(args.kafka)
            return store.access(security.qa_agency(agency_id).name, args.kafka)

        agencies, attestations = asyncio.run(
            seed_qa(args.qa_url, agency_kafka, args.qa_file, token=args.token)
        )
        print(f"QA agencies: {agencies}, attestations published: {attestations}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
