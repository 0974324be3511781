"""credstream's micro-credential profile as JSON Schema (the document a credential's
`credentialSchema` names): checked before signing and by the verifier.

Validated with jsonschema-rs (Rust, Draft 2020-12 with format assertions): ~45 µs per
credential where the pure-Python `jsonschema` took ~550 µs, a third of the issuing service's CPU
per credential once proofs got fast (README, "Performance"); it also asserts `date-time` and
`uri` formats, which Python's checker silently skips without optional packages."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs

SCHEMA_URL = "https://credstream.dev/schemas/micro-credential/v1.json"


def schema_bytes() -> bytes:
    return resources.files("services.issuance").joinpath("schemas", "micro-credential-v1.json").read_bytes()


@cache
def _validator() -> jsonschema_rs.Draft202012Validator:
    schema = json.loads(schema_bytes())
    jsonschema_rs.meta.validate(schema)  # the profile itself is a valid schema
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


def claims_profile(document: Any) -> bool:
    """True for a document that presents itself as credstream's micro-credential: an
    OpenBadgeCredential or a credential naming the profile's JSON Schema."""
    if not isinstance(document, dict):
        return True
    types = document.get("type")
    schemas = document.get("credentialSchema")
    schema_list = schemas if isinstance(schemas, list) else [schemas]
    return (isinstance(types, list) and "OpenBadgeCredential" in types) or any(
        isinstance(s, dict) and s.get("id") == SCHEMA_URL for s in schema_list
    )


def validate_profile(document: Any) -> list[str]:
    """Every way `document` departs from the profile, as `path: message` (empty when it conforms)."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: [str(p) for p in e.instance_path])
    return [f"{'/'.join(map(str, e.instance_path)) or '(root)'}: {e.message}" for e in errors]
