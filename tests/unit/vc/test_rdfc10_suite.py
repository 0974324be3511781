"""RDFC-1.0 against the W3C rdf-canon test suite (a subset, see rdfc10/README.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.vc.rdf_support import RDFC10, relabelled
from tests.unit.vc.vectors import read_text
from vc.rdf import parse_nquads
from vc.rdfc import (
    CanonicalizationLimitError,
    HashAlgorithm,
    canonical_labels,
    canonicalize,
)

_MANIFEST: list[dict[str, Any]] = json.loads(read_text(RDFC10 / "manifest.json"))["entries"]
_ALGORITHMS: dict[str, HashAlgorithm] = {"SHA256": "sha256", "SHA384": "sha384"}


def _entries(kind: str) -> list[Any]:
    return [
        pytest.param(entry, id=f"{entry['id'].lstrip('#')}-{entry['name']}")
        for entry in _MANIFEST
        if entry["type"] == f"rdfc:{kind}"
    ]


def _algorithm(entry: dict[str, Any]) -> HashAlgorithm:
    return _ALGORITHMS[entry.get("hashAlgorithm", "SHA256")]


def test_the_subset_covers_every_kind_of_test() -> None:
    kinds = {entry["type"] for entry in _MANIFEST}
    assert kinds == {"rdfc:RDFC10EvalTest", "rdfc:RDFC10MapTest", "rdfc:RDFC10NegativeEvalTest"}
    assert len(_entries("RDFC10EvalTest")) >= 30


@pytest.mark.parametrize("entry", _entries("RDFC10EvalTest"))
def test_canonical_n_quads(entry: dict[str, Any]) -> None:
    quads = parse_nquads(read_text(RDFC10 / entry["action"]))
    expected = read_text(RDFC10 / entry["result"])
    assert canonicalize(quads, hash_algorithm=_algorithm(entry)) == expected


@pytest.mark.parametrize("entry", _entries("RDFC10EvalTest"))
def test_expected_output_is_a_fixed_point_whatever_the_labels_and_order(entry: dict[str, Any]) -> None:
    expected = read_text(RDFC10 / entry["result"])
    quads = parse_nquads(expected)
    algorithm = _algorithm(entry)
    assert canonicalize(quads, hash_algorithm=algorithm) == expected
    assert canonicalize(relabelled(quads, seed=1), hash_algorithm=algorithm) == expected


@pytest.mark.parametrize("entry", _entries("RDFC10MapTest"))
def test_issued_identifiers_map(entry: dict[str, Any]) -> None:
    quads = parse_nquads(read_text(RDFC10 / entry["action"]))
    expected = json.loads(read_text(RDFC10 / entry["result"]))
    assert canonical_labels(quads, hash_algorithm=_algorithm(entry)) == expected


@pytest.mark.parametrize("entry", _entries("RDFC10NegativeEvalTest"))
def test_poison_is_refused_by_the_default_limits(entry: dict[str, Any]) -> None:
    quads = parse_nquads(read_text(RDFC10 / entry["action"]))
    with pytest.raises(CanonicalizationLimitError, match="max_work"):
        canonicalize(quads)
