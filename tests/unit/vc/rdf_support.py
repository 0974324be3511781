"""Helpers for the RDF and RDFC-1.0 tests: data files, relabelling, and the pyld reference."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from pyld import jsonld  # type: ignore[import-untyped]

from tests.unit.vc.vectors import EXAMPLES_CONTEXT, EXAMPLES_CONTEXT_URL
from vc.jsonld import default_store
from vc.rdf import BlankNode, Object, Quad, serialize_nquads

HERE = Path(__file__).parent
RDFC10 = HERE / "rdfc10"


def relabelled(quads: list[Quad], seed: int, *, reorder: bool = True) -> list[Quad]:
    """The same dataset with blank nodes renamed (a bijection) and, by default, quads in another
    order."""
    rng = random.Random(seed)
    labels = sorted({term.id for quad in quads for term in _blank_terms(quad)})
    fresh = rng.sample(range(10**6), len(labels))
    renamed = {label: f"r{number}" for label, number in zip(labels, fresh, strict=True)}

    def rename(term: Any) -> Any:
        return BlankNode(renamed[term.id]) if isinstance(term, BlankNode) else term

    result = [Quad(rename(q.subject), q.predicate, rename(q.object), rename(q.graph)) for q in quads]
    if reorder:
        rng.shuffle(result)
    return result


def _blank_terms(quad: Quad) -> list[BlankNode]:
    terms: list[Object | None] = [quad.subject, quad.object, quad.graph]
    return [term for term in terms if isinstance(term, BlankNode)]


def pyld_urdna2015(quads: list[Quad]) -> str:
    """pyld's own URDNA2015 (the predecessor of RDFC-1.0) over the same dataset."""
    options = {
        "algorithm": "URDNA2015",
        "inputFormat": "application/n-quads",
        "format": "application/n-quads",
    }
    return str(jsonld.normalize(serialize_nquads(quads), options))


def context_documents() -> dict[str, Any]:
    """The contexts shipped as package data, plus the W3C examples context (test vectors only)."""
    return {**default_store().documents, EXAMPLES_CONTEXT_URL: EXAMPLES_CONTEXT}


def pyld_dataset(document: dict[str, Any]) -> dict[str, Any]:
    """`pyld.jsonld.to_rdf` of `document`, offline: contexts come from `context_documents`."""
    documents = context_documents()

    def loader(url: str, options: Any = None) -> dict[str, Any]:
        return {"contextUrl": None, "documentUrl": url, "document": documents[url]}

    dataset: dict[str, Any] = jsonld.to_rdf(document, {"documentLoader": loader})
    return dataset
