"""Where the platform listens and the tokens to use: flags, then environment, then the local
runner's profile (`deploy/local/runner.py`, so `CREDSTREAM_<NAME>_PORT` overrides apply too; the
token is the profile's generated `operator` token from `var/<profile>/secrets/http-tokens.json`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from deploy.cli.errors import OperationFailed, PlatformUnreachable
from deploy.local.runner import Stack
from services.runtime.kafka import KafkaAccess

TOKEN_SERVICES = ("issuance", "revocation", "qa")


@dataclass(frozen=True)
class Endpoints:
    """The service URLs, admin tokens and Kafka bootstrap servers the commands talk to."""

    profile: str
    assessment_url: str
    issuance_url: str
    qa_url: str
    revocation_url: str
    kafka: str
    issuance_token: str
    revocation_token: str
    qa_token: str
    kafka_credentials: str

    @classmethod
    def resolve(cls, profile: str, *, token: str | None = None, **given: str | None) -> Endpoints:
        """Explicit values win (a service's own token over `token`, the token for every service);
        missing ones come from the profile: its ports on 127.0.0.1, its operator token and its
        Kafka credential store."""
        stack = Stack.for_profile(profile)
        ports = stack.ports
        defaults: dict[str, str] = {
            f"{name}_url": f"http://127.0.0.1:{ports[name]}"
            for name in ("assessment", "issuance", "qa", "revocation")
        }
        defaults["kafka"] = f"127.0.0.1:{ports['kafka']}"
        defaults["kafka_credentials"] = str(stack.kafka_credentials)
        if token is None and stack.http_tokens_file.exists():
            token = stack.http_tokens()["operator"]
        defaults |= {f"{name}_token": token or "" for name in TOKEN_SERVICES}
        values = {key: (given.get(key) or default) for key, default in defaults.items()}
        return cls(profile=profile, **values)

    def kafka_as(self, principal: str) -> KafkaAccess:
        """Kafka as one principal of deploy/config/kafka-security.json, with its password from
        the credential store; a broker without a store is taken to be unsecured (PLAINTEXT)."""
        from deploy.tools.kafka_security import CredentialStore

        store = Path(self.kafka_credentials)
        if not store.exists():
            return KafkaAccess(self.kafka)
        try:
            return CredentialStore.open(store).access(principal, self.kafka)
        except KeyError as error:
            raise PlatformUnreachable(f"Kafka: {error.args[0]}") from error

    def operator_kafka(self) -> KafkaAccess:
        """The operator's principal: reads every topic, writes awards and status requests."""
        return self.kafka_as("operator")

    def client(self, service: str) -> httpx.AsyncClient:
        """An HTTP client for one service, with its admin token when it has one."""
        base_url: str = getattr(self, f"{service}_url")
        token = getattr(self, f"{service}_token", None)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30)


@asynccontextmanager
async def service(endpoints: Endpoints, name: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose connection failures become `PlatformUnreachable` (exit code 3)."""
    async with endpoints.client(name) as client:
        try:
            yield client
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise PlatformUnreachable(
                f"the {name} service does not answer at {client.base_url} ({error}); "
                f"is the platform up? (`credstream up`, or --{name}-url)"
            ) from error


def checked(response: httpx.Response, what: str) -> Any:
    """The JSON body of a successful response; a problem+json answer becomes `OperationFailed`."""
    if response.is_success:
        return response.json() if response.content else None
    try:
        body = response.json()
    except ValueError:
        body = {"detail": response.text}
    detail = body.get("detail") if isinstance(body, dict) else body
    raise OperationFailed(f"{what}: HTTP {response.status_code}: {detail}", detail=body)
