"""Validate docker-compose.yml without a Docker engine.

    python -m deploy.tools.compose_check [FILE]

1. Interpolates `${VAR:-default}` as compose does (defaults only; the environment is not read, so
   the check does not depend on the machine), then validates the result against the Compose
   Specification's JSON Schema, taken from the pinned `compose-spec/compose-go` module (the
   library `docker compose` itself loads files with) via the Go module proxy and cached in
   `.cache/tools/`.
2. Checks credstream's own rules: every image has an explicit tag (never `latest`), every service
   that stays up and that we build has a health check, every `depends_on` target exists and every
   `service_healthy` target has a health check, every module a command names exists in the
   repository, and every file mounted from the repository exists.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sys
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_GO = "github.com/compose-spec/compose-go/v2"
COMPOSE_GO_VERSION = "v2.10.0"
COMPOSE_GO_ZIP_SHA256 = "e5aa05965799dbd5aa3e6df54ff24b7fc61e3aecf97b23f7e5b4e4dc6b245e40"
CACHE = ROOT / ".cache" / "tools" / f"compose-spec-{COMPOSE_GO_VERSION}.json"
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?P<default>[^}]*))?\}")


def compose_schema() -> dict[str, Any]:
    if not CACHE.exists():
        url = f"https://proxy.golang.org/{COMPOSE_GO}/@v/{COMPOSE_GO_VERSION}.zip"
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
        digest = hashlib.sha256(data).hexdigest()
        if digest != COMPOSE_GO_ZIP_SHA256:
            raise SystemExit(f"{url}: SHA-256 {digest} is not the pinned {COMPOSE_GO_ZIP_SHA256}")
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = archive.read(f"{COMPOSE_GO}@{COMPOSE_GO_VERSION}/schema/compose-spec.json")
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        CACHE.write_bytes(schema)
    loaded: dict[str, Any] = json.loads(CACHE.read_bytes())
    return loaded


def interpolate(node: Any) -> Any:
    if isinstance(node, str):
        return _VARIABLE.sub(lambda m: m.group("default") or "", node)
    if isinstance(node, list):
        return [interpolate(item) for item in node]
    if isinstance(node, dict):
        return {key: interpolate(value) for key, value in node.items()}
    return node


def project_rules(compose: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    services: dict[str, Any] = compose.get("services", {})
    for name, service in services.items():
        image = service.get("image", "")
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        if not tag or tag == "latest":
            problems.append(f"{name}: image {image!r} needs an explicit tag")
        one_shot = service.get("restart") == "no"
        if "build" in service and not one_shot and "healthcheck" not in service:
            problems.append(f"{name}: a long-running credstream service needs a healthcheck")
        depends = service.get("depends_on", {})
        targets = depends.items() if isinstance(depends, dict) else ((d, {}) for d in depends)
        for target, condition in targets:
            if target not in services:
                problems.append(f"{name}: depends_on {target!r}, which is not a service")
            elif condition.get("condition") == "service_healthy" and "healthcheck" not in services[target]:
                problems.append(f"{name}: waits for {target} to be healthy, which has no healthcheck")
        command = service.get("command")
        if "build" in service and isinstance(command, list) and command:
            module = ROOT / Path(*command[0].split("."))
            if not (module.with_suffix(".py").exists() or (module / "__main__.py").exists()):
                problems.append(f"{name}: command runs module {command[0]!r}, which does not exist")
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith("./") and not (ROOT / source).exists():
                problems.append(f"{name}: mounts {source}, which does not exist")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else ROOT / "docker-compose.yml"
    compose = interpolate(yaml.safe_load(path.read_text()))
    problems = [
        f"schema: {'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in Draft7Validator(compose_schema()).iter_errors(compose)
    ]
    problems += project_rules(compose)
    for problem in problems:
        print(f"{path.name}: {problem}")
    if not problems:
        print(f"{path.name}: valid (compose-spec {COMPOSE_GO_VERSION} schema + credstream rules)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
