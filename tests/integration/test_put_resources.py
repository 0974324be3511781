"""`PUT /…/{id}` on every service that has one, on the real stack: the path is the resource's id
(the body may leave it out), a body naming another id is a 409 that changes nothing, and the
status follows RFC 9110 s9.3.4: 201 with `Location` when created, 200 when replaced."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from deploy.local.runner import Stack
from services.runtime.process import ServiceHost
from tests.fixtures.issuance import ADMIN, IssuerScenario, indexes_ready
from tests.fixtures.qa import QA_ADMIN, AgencyScenario, qa_url

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Resource:
    """One PUT-able resource: its service, collection path, id field and a body builder."""

    service: str
    collection: str
    id_field: str
    body: Callable[[str], dict[str, Any]]
    changed: Callable[[dict[str, Any]], dict[str, Any]]


SCENARIO = IssuerScenario()


def _agency(agency_id: str) -> dict[str, Any]:
    registration = AgencyScenario().registration()
    return {**registration, "agency_id": agency_id}


RESOURCES = {
    "issuer": Resource(
        "issuance",
        "/admin/issuers",
        "issuer_id",
        lambda _id: {**SCENARIO.issuer(), "issuer_id": _id},
        lambda body: {**body, "name": "Renamed University"},
    ),
    "achievement": Resource(
        "issuance",
        "/admin/achievements",
        "achievement_id",
        lambda _id: {**SCENARIO.achievement(), "achievement_id": _id},
        lambda body: {**body, "name": "Renamed micro-credential"},
    ),
    "agency": Resource(
        "qa",
        "/admin/agencies",
        "agency_id",
        _agency,
        lambda body: {**body, "name": "Renamed agency"},
    ),
}


def _base(stack: Stack, service: str) -> str:
    return qa_url(stack) if service == "qa" else f"http://127.0.0.1:{stack.ports[service]}"


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


@pytest.fixture(scope="module")
async def issuer_defined(stack: Stack, issuance: ServiceHost, qa: ServiceHost) -> None:
    """The achievements below belong to SCENARIO's issuer."""
    async with httpx.AsyncClient(base_url=_base(stack, "issuance"), headers=ADMIN, timeout=30) as client:
        (await client.put(f"/admin/issuers/{SCENARIO.issuer_id}", json=SCENARIO.issuer())).raise_for_status()
        await indexes_ready(client, SCENARIO.issuer_id)


@pytest.mark.parametrize("kind", list(RESOURCES))
async def test_the_path_names_the_resource_and_put_answers_201_then_200(
    stack: Stack, issuer_defined: None, kind: str
) -> None:
    resource = RESOURCES[kind]
    resource_id = f"{kind}-{uuid.uuid4().hex[:8]}"
    path = f"{resource.collection}/{resource_id}"
    body = resource.body(resource_id)
    without_id = {k: v for k, v in body.items() if k != resource.id_field}
    headers = QA_ADMIN if resource.service == "qa" else ADMIN
    async with httpx.AsyncClient(
        base_url=_base(stack, resource.service), headers=headers, timeout=30
    ) as client:
        created = await client.put(path, json=without_id)
        assert created.status_code == 201, created.text
        assert created.headers["location"] == path
        shown = (await client.get(created.headers["location"])).json()
        assert shown[resource.id_field] == resource_id

        replaced = await client.put(path, json=resource.changed(without_id))
        assert replaced.status_code == 200, replaced.text
        assert "location" not in replaced.headers
        assert (await client.get(path)).json()["name"].startswith("Renamed")

        again = await client.put(path, json=resource.changed(body))  # the body may repeat its id
        assert again.status_code == 200, again.text

        elsewhere = f"{kind}-{uuid.uuid4().hex[:8]}"
        conflict = _problem(await client.put(path, json=resource.body(elsewhere)), 409)
        assert conflict["reason"] == "id_mismatch"
        assert elsewhere in conflict["detail"] and resource_id in conflict["detail"]
        assert (await client.get(path)).json()["name"].startswith("Renamed"), "the 409 changed nothing"
        _problem(await client.get(f"{resource.collection}/{elsewhere}"), 404)

        bad = _problem(await client.put(f"{resource.collection}/Not_A_Slug", json=without_id), 400)
        assert bad["errors"][0]["loc"] == ["path", resource.id_field]


async def test_an_agency_cannot_take_another_agency_did(stack: Stack, qa: ServiceHost) -> None:
    """The register maps an endorsement's issuer to one agency: a second agency with the same DID
    is a 409 (the schemathesis fuzz found the 500 this once was)."""
    first = AgencyScenario()
    await first.register(qa_url(stack))
    twin = {**first.registration(), "agency_id": f"twin-{uuid.uuid4().hex[:8]}"}
    async with httpx.AsyncClient(base_url=qa_url(stack), headers=QA_ADMIN, timeout=30) as client:
        refused = _problem(await client.put(f"/admin/agencies/{twin['agency_id']}", json=twin), 409)
        assert refused["reason"] == "did_registered" and first.did in refused["detail"]
        _problem(await client.get(f"/admin/agencies/{twin['agency_id']}"), 404)
