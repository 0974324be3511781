"""A QA agency plugs in: sign an Open Badges 3.0 EndorsementCredential with the agency's own Ed25519
key (did:key) and publish it on credstream.qa.submissions.v1. Usage and claims: docs/qa.md."""

import asyncio
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer

from contracts.topics import QA_SUBMISSIONS
from contracts.v1.qa import AttestationSubmitted
from deploy.tools.publish import publish_event
from services.runtime.kafka import KafkaAccess
from vc import keys, multibase, proofs

CONTEXT = ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
           "https://credstream.dev/contexts/micro-credential/v1"]  # fmt: skip


def stamp(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def endorsement(secret_key: str, subject: str, *, valid_from: datetime | None = None,
                valid_until: datetime | None = None, **claims: Any) -> dict[str, Any]:  # fmt: skip
    """Signed, about `subject` (urn:credstream:issuer:<id> or urn:credstream:achievement:<id>)."""
    seed = multibase.decode_secret_key(secret_key)
    did = "did:key:" + multibase.encode_public_key(keys.public_key_of(seed))
    now = datetime.now(UTC)
    issuer = {"id": did, "type": ["Profile"], "name": claims.pop("agencyName", "QA agency")}
    qa = {"type": ["QualityAssurance"], "qaType": "external", "attestationAction": "grant",
          "decision": "positive", **claims}  # fmt: skip
    subject_node = {"id": subject, "type": ["EndorsementSubject"], "qualityAssurance": qa}
    document = {"@context": CONTEXT, "id": f"urn:uuid:{uuid.uuid4()}", "issuer": issuer,
                "type": ["VerifiableCredential", "EndorsementCredential"],
                "validFrom": stamp(valid_from or now), "credentialSubject": subject_node}  # fmt: skip
    if qa["attestationAction"] != "withdraw":  # a withdrawal takes effect at its validFrom
        document["validUntil"] = stamp(valid_until or now + timedelta(days=365))
    signer = keys.Ed25519Signer(f"{did}#{did.removeprefix('did:key:')}", seed)
    return proofs.create_proof(document, signer=signer, created=now)


async def submit(access: KafkaAccess, agency_id: str, signed: dict[str, Any]) -> str:
    """Publish as the agency would (its own Kafka principal, which may write only
    credstream.qa.submissions.v1): CloudEvents binary mode, keyed by the subject."""
    qa = signed["credentialSubject"]["qualityAssurance"]
    event = AttestationSubmitted(agency_id=agency_id, action=qa["attestationAction"], endorsement=signed,
                                 attestation_id=qa.get("attestation"))  # fmt: skip
    async with AIOKafkaProducer(**access.client_options(), acks="all", enable_idempotence=True) as p:
        key, source = signed["credentialSubject"]["id"], f"urn:qa-agency:{agency_id}"
        await publish_event(p, QA_SUBMISSIONS, event, key=key, source=source)
    return str(signed["id"])


if __name__ == "__main__":  # agency-id subject claim=value...; AGENCY_SECRET_KEY, KAFKA_* (from_env)
    agency, subject, *pairs = sys.argv[1:]
    claims: dict[str, Any] = dict(pair.split("=", 1) for pair in pairs)
    signed = endorsement(os.environ["AGENCY_SECRET_KEY"], subject, **claims)
    print("submitted", asyncio.run(submit(KafkaAccess.from_env(), agency, signed)))
