"""Signing keys on the real stack: sealed at rest under a KEK with an id, never in logs, events,
traces, the outbox or error bodies, and re-wrapped under a new KEK by the rotation command."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts.topics import ACHIEVEMENTS_EARNED, CREDENTIALS_ISSUED, all_topic_names
from deploy.local.runner import Stack
from deploy.tools.publish import publish_event
from services.issuance.app import create_app as create_issuance
from services.issuance.keyring import Keyring, KeyringError
from services.issuance.rekey import rekey
from services.issuance.settings import Settings
from services.runtime.process import ServiceHost
from tests.fixtures.issuance import ADMIN, IssuerScenario, issuance_settings
from tests.fixtures.process import ServiceProcess
from tests.fixtures.waiting import eventually
from vc.multibase import encode_secret_key

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("revocation")]

DEFAULTS = Settings()
DEV_KEK = DEFAULTS.key_encryption_key.get_secret_value()
DEV_KEK_ID = DEFAULTS.key_encryption_key_id


def _new_kek() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def _b64(data: bytes) -> list[str]:
    std, url = base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode()
    return [std, std.rstrip("="), url, url.rstrip("=")]


def _forms_of_seed(seed: bytes) -> list[str]:
    return [seed.hex(), seed.hex().upper(), encode_secret_key(seed), *_b64(seed)]


def _forms_of_kek(kek_b64url: str) -> list[str]:
    raw = base64.urlsafe_b64decode(kek_b64url + "=" * (-len(kek_b64url) % 4))
    return [kek_b64url, raw.hex(), *_b64(raw)]


def _leaks(haystack: bytes, secrets_: dict[str, list[str]], raw: dict[str, bytes]) -> list[str]:
    found = [
        f"{what} as {form[:6]}…"
        for what, forms in secrets_.items()
        for form in forms
        if form.encode() in haystack
    ]
    return found + [f"{what} (raw bytes)" for what, data in raw.items() if data in haystack]


async def _all_kafka_records(stack: Stack) -> bytes:
    """Every record of every credstream topic (values, keys, headers), from the beginning."""
    consumer = AIOKafkaConsumer(**stack.kafka_admin().client_options(), enable_auto_commit=False)
    await consumer.start()
    chunks: list[bytes] = []
    try:
        await consumer._client.force_metadata_update()
        tps = [
            TopicPartition(topic, p)
            for topic in all_topic_names()
            for p in sorted(consumer.partitions_for_topic(topic) or set())
        ]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in tps])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    chunks += [r.key or b"", r.value or b""]
                    chunks += [k.encode() + v for k, v in r.headers]
    finally:
        await consumer.stop()
    assert len(chunks) > 100, "the topics hold the records of the flow"
    return b"\n".join(chunks)


@pytest.fixture
def issuance_process(stack: Stack, tmp_path: Path) -> Iterator[ServiceProcess]:
    svc = ServiceProcess(stack, "issuance", tmp_path / "issuance.log")
    yield svc
    svc.stop()


@pytest.fixture
async def issuance_db(stack: Stack) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(stack.database_url("issuance"), server_settings={"search_path": "issuance"})
    yield conn
    await conn.close()


async def _ready(stack: Stack) -> None:
    port = stack.ports["issuance"]

    async def up() -> bool:  # not runner.service_ready: it would block this loop, which serves HTTP
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(f"http://127.0.0.1:{port}/health/ready")).status_code == 200
        except httpx.HTTPError:
            return False

    await eventually(up, timeout=30, what="issuance HTTP")


async def _rekey_back_to_dev(stack: Stack, *previous: tuple[str, str]) -> None:
    """Leave every key under the development KEK the other tests' services use."""
    settings = issuance_settings(stack, previous_key_encryption_keys=json.dumps(dict(previous)))
    await rekey(settings)


@pytest.fixture
async def introduced_keks(stack: Stack) -> AsyncIterator[dict[str, str]]:
    """KEKs a test seals keys under; afterwards (pass or fail) every key is re-wrapped under the
    development KEK again, which the other tests' services use."""
    keks: dict[str, str] = {}
    yield keks
    if keks:
        await _rekey_back_to_dev(stack, *keks.items())


async def test_no_key_material_in_logs_events_traces_outbox_or_error_bodies(
    stack: Stack,
    *,
    introduced_keks: dict[str, str],
    issuance_process: ServiceProcess,
    issuance_db: asyncpg.Connection,
    producer: AIOKafkaProducer,
    watch: Any,
) -> None:
    kek, kek_id = _new_kek(), f"scan-{uuid.uuid4().hex[:6]}"
    introduced_keks[kek_id] = kek
    issuance_process.start(
        ISSUANCE_KEY_ENCRYPTION_KEY=kek,
        ISSUANCE_KEY_ENCRYPTION_KEY_ID=kek_id,
        ISSUANCE_PREVIOUS_KEY_ENCRYPTION_KEYS=json.dumps({DEV_KEK_ID: DEV_KEK}),
        ISSUANCE_OTEL_EXPORTER="console",  # spans to the log file
        ISSUANCE_LOG_LEVEL="DEBUG",
        ISSUANCE_LOG_FORMAT="json",
    )
    await issuance_process.ready()
    base_url = f"http://127.0.0.1:{stack.ports['issuance']}"
    scenario = IssuerScenario()
    issued = await watch(CREDENTIALS_ISSUED.name)
    errors: list[httpx.Response] = []
    try:
        await scenario.define(base_url)
        async with httpx.AsyncClient(base_url=base_url, headers=ADMIN, timeout=30) as client:
            for learner, rotate in (("secret-scan-1", True), ("secret-scan-2", False)):
                earned = scenario.earned(learner)
                await publish_event(
                    producer, ACHIEVEMENTS_EARNED, earned, key=learner, source="urn:test:scan"
                )
                [record] = await issued.wait_for(
                    lambda r, e=earned.earned_id: r.json()["earned_id"] == e, count=1, timeout=60
                )
                if rotate:
                    (await client.post(f"/admin/issuers/{scenario.issuer_id}/keys/rotate")).raise_for_status()
            credential = record.json()["credential"]
            did = (
                credential["issuer"]["id"] if isinstance(credential["issuer"], dict) else credential["issuer"]
            )
            direct = {
                "@context": ["https://www.w3.org/ns/credentials/v2"],
                "id": f"urn:uuid:{uuid.uuid4()}",
                "type": ["VerifiableCredential"],
                "issuer": did,
                "validFrom": "2026-01-01T00:00:00Z",
                "credentialSubject": {"id": "did:example:learner"},
            }
            assert (await client.post("/credentials/issue", json={"credential": direct})).status_code == 201
            tampered = {**credential, "name": "tampered"}
            json_type = {"content-type": "application/json"}
            calls = [
                ("PUT", f"/admin/issuers/{scenario.issuer_id}", {**scenario.issuer(), "issuer_id": "x"}),
                ("PUT", f"/admin/achievements/{scenario.achievement_id}", {"achievement_id": 1}),
                ("POST", "/credentials/issue", {"credential": {**direct, "issuer": "did:example:x"}}),
                ("POST", "/credentials/issue", {"credential": {**direct, "issuer": did + "x"}}),
                ("POST", "/admin/issuers/nobody/keys/rotate", None),
                ("GET", f"/credentials/{uuid.uuid4()}", None),
                ("POST", "/credentials/verify", {"verifiableCredential": tampered}),
            ]
            errors += [await client.request(m, path, json=body) for m, path, body in calls]
            errors.append(await client.post("/credentials/issue", content=b"{not json", headers=json_type))
            errors.append(await client.get("/admin/issuers", headers={"Authorization": "Bearer wrong"}))
    finally:
        issuance_process.stop()  # flushes the span exporter into the log
    assert all(r.status_code >= 400 for r in errors), [r.status_code for r in errors]

    rows = await issuance_db.fetch(
        "SELECT key_id, sealed_secret FROM issuer_keys WHERE issuer_id = $1", scenario.issuer_id
    )
    assert len(rows) == 2, "the first key and the rotated one"
    keyring = Keyring(kek_id, kek)
    seeds = {r["key_id"]: keyring.unseal(r["key_id"], bytes(r["sealed_secret"])) for r in rows}
    # The column holds ciphertext under the named KEK, never the seed.
    for row in rows:
        sealed = bytes(row["sealed_secret"])
        assert keyring.kek_id_of(sealed) == kek_id
        assert seeds[row["key_id"]] not in sealed
        assert len(sealed) == 2 + len(kek_id) + 12 + 32 + 16
        with pytest.raises(KeyringError):
            Keyring(DEV_KEK_ID, DEV_KEK).unseal(row["key_id"], sealed)

    secrets_ = {f"seed {n}": _forms_of_seed(seed) for n, seed in enumerate(seeds.values())}
    secrets_["KEK"] = _forms_of_kek(kek)
    raw = {f"seed {n}": seed for n, seed in enumerate(seeds.values())}
    first = next(iter(seeds.values()))
    assert _leaks(b"x" + encode_secret_key(first).encode() + b"x", secrets_, raw), "the scan finds a leak"
    assert _leaks(b'{"k": "' + first.hex().encode() + b'"}', secrets_, raw)

    log = issuance_process.log.read_bytes()
    assert b'"trace_id"' in log and b'"span_id"' in log, "spans were exported to the log"
    assert b"credstream.credential.issued" in log or b"publish" in log
    outbox = await issuance_db.fetch("SELECT headers::text AS h, payload FROM outbox")
    outbox_bytes = b"\n".join(r["h"].encode() + bytes(r["payload"]) for r in outbox)
    bodies = b"\n".join(r.content for r in errors)
    for source, haystack in {
        "service log and spans": log,
        "Kafka topics": await _all_kafka_records(stack),
        "outbox table": outbox_bytes,
        "HTTP error bodies": bodies,
    }.items():
        assert not _leaks(haystack, secrets_, raw), (
            f"key material in the {source}: {_leaks(haystack, secrets_, raw)}"
        )


async def test_kek_rotation_rewraps_every_key_and_the_old_kek_can_go(
    stack: Stack, introduced_keks: dict[str, str], issuance_db: asyncpg.Connection
) -> None:
    scenario = IssuerScenario()
    base_url = f"http://127.0.0.1:{stack.ports['issuance']}"
    old, new = _new_kek(), _new_kek()
    introduced_keks.update({"kek-old": old, "kek-new": new})
    previous_dev = json.dumps({DEV_KEK_ID: DEV_KEK})
    before_settings = issuance_settings(
        stack,
        key_encryption_key=old,
        key_encryption_key_id="kek-old",
        previous_key_encryption_keys=previous_dev,
    )
    host: ServiceHost = await create_issuance(before_settings)
    await host.start()
    await _ready(stack)
    try:
        await scenario.define(base_url)
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            did_before = (await client.get(f"/issuers/{scenario.issuer_id}/did.json")).json()
    finally:
        await host.stop()
    [sealed_before] = await issuance_db.fetch(
        "SELECT sealed_secret FROM issuer_keys WHERE issuer_id = $1", scenario.issuer_id
    )

    rotated = issuance_settings(
        stack,
        key_encryption_key=new,
        key_encryption_key_id="kek-new",
        previous_key_encryption_keys=json.dumps({"kek-old": old, DEV_KEK_ID: DEV_KEK}),
    )
    rewrapped, unchanged = await rekey(rotated)
    assert rewrapped >= 1 and unchanged == 0
    assert await rekey(rotated) == (0, rewrapped), "a second run has nothing left to do"
    kek_ids = {
        Keyring("kek-new", new).kek_id_of(bytes(r[0]))
        for r in await issuance_db.fetch("SELECT sealed_secret FROM issuer_keys")
    }
    assert kek_ids == {"kek-new"}
    [sealed_after] = await issuance_db.fetch(
        "SELECT sealed_secret FROM issuer_keys WHERE issuer_id = $1", scenario.issuer_id
    )
    assert bytes(sealed_after[0]) != bytes(sealed_before[0])
    with pytest.raises(KeyringError, match="not configured"):
        Keyring("kek-old", old).unseal("any", bytes(sealed_after[0]))

    # The service with only the new KEK signs with the same key: the DID document is unchanged.
    host = await create_issuance(
        issuance_settings(stack, key_encryption_key=new, key_encryption_key_id="kek-new")
    )
    await host.start()
    await _ready(stack)
    try:
        async with httpx.AsyncClient(base_url=base_url, headers=ADMIN, timeout=30) as client:
            assert (await client.get(f"/issuers/{scenario.issuer_id}/did.json")).json() == did_before
            signed = await client.post(
                "/credentials/issue",
                json={
                    "credential": {
                        "@context": ["https://www.w3.org/ns/credentials/v2"],
                        "id": f"urn:uuid:{uuid.uuid4()}",
                        "type": ["VerifiableCredential"],
                        "issuer": did_before["id"],
                        "validFrom": "2026-01-01T00:00:00Z",
                        "credentialSubject": {"id": "did:example:learner"},
                    }
                },
            )
            assert signed.status_code == 201, signed.text
            verified = await client.post("/credentials/verify", json=signed.json())
            assert verified.json()["verified"] is True, verified.text
    finally:
        await host.stop()
