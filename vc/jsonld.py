"""JSON-LD to RDF for Data Integrity, offline and in safe mode.

Two guarantees that the proofs depend on:

* **Offline, pinned contexts.** The document loader serves the JSON-LD contexts shipped in
  `contexts/` (obtained from pinned npm packages by `python -m deploy.tools.contexts`, SHA-256
  checked when loaded) and refuses every other URL. A credential cannot make a worker fetch
  anything, and a context cannot change under a signature.
* **Safe mode.** A property or type that no context defines is an error, never silently dropped
  or mapped to the VC 2.0 `issuer-dependent` vocabulary: a dropped term is not covered by the
  signature, and independent verifiers (Digital Bazaar's `safe` mode) reject such documents.
  Embedded (inline) contexts are refused as well, so every term comes from a pinned context.

Expansion and node-map generation are pyld's (pinned to one version, as we call two of its
internal steps to avoid expanding twice); canonicalization is ours (`rdfc.py`, bounded).

pyld's expansion and node map are superlinear in the number of JSON values (merging each value
into its node scans the values already there): a 420 KB attestation of 10,000 `evidence` entries
kept a worker busy for 30 s and a 1 MiB one for four and a half minutes before `rdfc.py`'s quad
bound could refuse it. `DocumentLimits` is therefore checked on the plain JSON, in linear time,
before pyld sees the document; credentials have a few hundred values and a depth under ten.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import cache
from importlib import resources
from typing import Any

from pyld import jsonld  # type: ignore[import-untyped]
from pyld.context_resolver import ContextResolver  # type: ignore[import-untyped]
from pyld.identifier_issuer import IdentifierIssuer  # type: ignore[import-untyped]
from pyld.jsonld import LRUCache  # type: ignore[import-untyped]

from vc.rdf import Quad, from_pyld_dataset


def canonical_double(value: float) -> str:
    """The canonical lexical form of an `xsd:double` (JSON-LD 1.1 toRdf): one digit, up to 15
    decimals, `E`, the exponent; as jsonld.js writes it with ECMAScript's `toExponential(15)`,
    which breaks an exact tie upward. pyld's `%1.15E` rounds a tie to even, so a value such as
    2^-24 (5.9604644775390625e-8) became `5.960464477539062E-8` here and `...063E-8` in every
    JavaScript verifier, and the credential failed there. Rounding the exact binary value half
    up gives the JavaScript digits; pyld is made to use this function too (below), so the fast
    and general paths agree."""
    if value == 0:
        return "0.0E0"
    with localcontext() as context:
        context.rounding = ROUND_HALF_UP
        text = format(Decimal(value), ".15E")
    return re.sub(r"(\d)0*E\+?(-)?0*(\d)", r"\1E\2\3", text)


jsonld._canonicalize_double = canonical_double

ISSUER_DEPENDENT = "https://www.w3.org/ns/credentials/issuer-dependent#"
CREDSTREAM_CONTEXT_URL = "https://credstream.dev/contexts/micro-credential/v1"

# Contexts of credstream's own, shipped beside the npm-pinned ones (not in the npm manifest).
PROJECT_CONTEXTS = {CREDSTREAM_CONTEXT_URL: "credstream-micro-credential-v1.jsonld"}


class JsonLdSafeModeError(ValueError):
    """The document uses a term, type or context that the pinned contexts do not define."""


class ContextNotAllowedError(JsonLdSafeModeError):
    """The document names a context URL that the loader does not have."""


class JsonLdLimitError(ValueError):
    """The document has more JSON values, or deeper nesting, than `DocumentLimits` allow."""


@dataclass(frozen=True, slots=True)
class DocumentLimits:
    """Bounds on a document before JSON-LD expansion: JSON values (objects, arrays and scalars,
    each counted once) and nesting depth. At the default, expansion and node map stay under
    about 0.2 s on one core; the largest credential we issue has about 200 values."""

    max_values: int = 2_000
    max_depth: int = 32


DEFAULT_DOCUMENT_LIMITS = DocumentLimits()


def check_size(document: Mapping[str, Any], limits: DocumentLimits = DEFAULT_DOCUMENT_LIMITS) -> None:
    """Raise `JsonLdLimitError` when `document` exceeds `limits` (iterative: no recursion limit)."""
    values = 0
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        values += 1
        if values > limits.max_values:
            raise JsonLdLimitError(f"the document has more than max_values={limits.max_values} JSON values")
        if depth > limits.max_depth:
            raise JsonLdLimitError(f"the document nests deeper than max_depth={limits.max_depth}")
        if isinstance(value, Mapping):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


@dataclass(frozen=True, slots=True)
class ContextStore:
    """URL -> parsed context document; nothing else is ever loaded."""

    documents: Mapping[str, Any]
    resolved: Any = field(default_factory=lambda: LRUCache(maxsize=64), compare=False, repr=False)
    # What `fastld` derives from these contexts (processed active contexts), built on first use.
    compiled: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def load(self, url: str, options: Any = None) -> dict[str, Any]:
        document = self.documents.get(url)
        if document is None:
            raise ContextNotAllowedError(f"context {url} is not one of the pinned contexts")
        return {"contextUrl": None, "documentUrl": url, "document": document}

    def with_extra(self, extra: Mapping[str, Any]) -> ContextStore:
        """A store that also serves `extra` (tests: e.g. the W3C examples context)."""
        return ContextStore({**self.documents, **extra})

    def urls(self) -> Iterable[str]:
        return self.documents.keys()


def _read(name: str) -> bytes:
    return resources.files("vc").joinpath("contexts").joinpath(name).read_bytes()


@cache
def default_store() -> ContextStore:
    """The package-data contexts, each checked against the SHA-256 pinned in the manifest."""
    manifest: dict[str, dict[str, str]] = json.loads(_read("manifest.json"))
    documents: dict[str, Any] = {}
    for url, entry in manifest.items():
        raw = _read(entry["file"])
        digest = hashlib.sha256(raw).hexdigest()
        if digest != entry["sha256"]:
            raise RuntimeError(f"context file for {url} does not match its pinned SHA-256")
        documents[url] = json.loads(raw)
    for url, name in PROJECT_CONTEXTS.items():
        documents[url] = json.loads(_read(name))
    return ContextStore(documents)


def context_document(url: str) -> bytes:
    """The bytes of one shipped context (served over HTTP by the issuance service)."""
    if url in PROJECT_CONTEXTS:
        return _read(PROJECT_CONTEXTS[url])
    manifest: dict[str, dict[str, str]] = json.loads(_read("manifest.json"))
    return _read(manifest[url]["file"])


def check_context_value(context: Any, store: ContextStore) -> None:
    entries = context if isinstance(context, list) else [context]
    for entry in entries:
        if not isinstance(entry, str):
            raise JsonLdSafeModeError("embedded @context objects are not accepted; use pinned context URLs")
        if entry not in store.documents:
            raise ContextNotAllowedError(f"context {entry} is not one of the pinned contexts")


def _check_iri(iri: str, what: str) -> None:
    if iri.startswith(ISSUER_DEPENDENT):
        term = iri.removeprefix(ISSUER_DEPENDENT)
        raise JsonLdSafeModeError(f"{what} {term!r} is not defined by any context")
    if iri.startswith("_:"):
        return
    if ":" not in iri or iri.startswith(("./", "../", "/", "#")):
        raise JsonLdSafeModeError(f"{what} {iri!r} is a relative IRI (not defined by any context)")


def _check_expanded(node: Any) -> None:
    """Walk expanded JSON-LD; every property and type must be an absolute, defined IRI."""
    if isinstance(node, list):
        for item in node:
            _check_expanded(item)
        return
    if not isinstance(node, dict):
        return
    if "@value" in node:
        value_type = node.get("@type")
        if isinstance(value_type, str) and value_type != "@json":
            _check_iri(value_type, "datatype")
        return
    for key, value in node.items():
        if key == "@type":
            for type_iri in value if isinstance(value, list) else [value]:
                _check_iri(type_iri, "type")
        elif key == "@id":
            if isinstance(value, str):
                _check_iri(value, "identifier")
        elif key.startswith("@"):
            _check_expanded(value)
        else:
            _check_iri(key, "property")
            _check_expanded(value)


def to_quads(
    document: Mapping[str, Any],
    *,
    store: ContextStore | None = None,
    limits: DocumentLimits = DEFAULT_DOCUMENT_LIMITS,
) -> list[Quad]:
    """The RDF dataset of `document`, expanded offline and in safe mode; `JsonLdLimitError` when
    the document is too large to expand safely."""
    check_size(document, limits)
    store = store or default_store()
    if "@context" not in document:
        raise JsonLdSafeModeError("the document has no @context")
    check_context_value(document["@context"], store)

    def dropped(term: str | None) -> None:
        raise JsonLdSafeModeError(f"property {term!r} is not defined by any context")

    processor = jsonld.JsonLdProcessor(on_property_dropped=dropped)
    options = {
        "documentLoader": store.load,
        # No base IRI: with "" pyld resolves relative IRIs against http://example.org/base/, which
        # would turn an undefined type or a relative id into an absolute IRI that passes the
        # check below; with None they stay relative and are refused (as safe mode requires).
        "base": None,
        "processingMode": "json-ld-1.1",
        "extractAllScripts": True,
        "produceGeneralizedRdf": False,
        "contextResolver": context_resolver(store),
    }
    try:
        expanded = processor.expand(dict(document), options)
    except jsonld.JsonLdError as error:
        raise _unwrap(error) from error
    _check_expanded(expanded)
    issuer = IdentifierIssuer("_:b")
    node_map: dict[str, Any] = {"@default": {}}
    processor._create_node_map(expanded, node_map, "@default", issuer)
    dataset: dict[str, Any] = {}
    for graph_name, graph in sorted(node_map.items()):
        if graph_name == "@default" or ":" in graph_name:
            dataset[graph_name] = processor._graph_to_rdf(graph, issuer, options)
    return from_pyld_dataset(dataset)


def context_resolver(store: ContextStore) -> Any:
    # One resolved-context cache per store: contexts are parsed once per process, not per document.
    return ContextResolver(store.resolved, store.load)


def _unwrap(error: Exception) -> Exception:
    """pyld wraps loader and handler errors; surface ours with their own message."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, JsonLdSafeModeError):
            return cause
        details = getattr(cause, "details", None)
        inner = details.get("cause") if isinstance(details, dict) else None
        cause = inner if isinstance(inner, BaseException) else cause.__cause__
    return JsonLdSafeModeError(f"JSON-LD processing failed: {error}")
