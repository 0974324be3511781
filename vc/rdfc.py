"""RDF Dataset Canonicalization (RDFC-1.0, W3C Recommendation 21 May 2024), with a work budget.

RDFC-1.0 labels every blank node `c14n0`, `c14n1`, … from what surrounds it, so that isomorphic
datasets serialize to the same canonical N-Quads: the bytes an `eddsa-rdfc-2022` proof signs. Most
blank nodes are told apart by their own statements ("Hash First Degree Quads"). Blank nodes that
share a first-degree hash are ordered by "Hash N-Degree Quads", which tries every permutation of
related look-alike blank nodes and recurses; a dataset of many symmetric blank nodes makes that
exponential ("Dataset Poisoning" in the Security Considerations). The specification requires
implementations to bound this and fail early, so `CanonLimits` bounds the input size and the Hash
N-Degree Quads work, and exceeding a bound raises `CanonicalizationLimitError` rather than keeping
a worker busy for minutes on one hostile credential.

The common case, where every blank node has a first-degree hash of its own, never reaches Hash
N-Degree Quads, and is kept cheap: each distinct quad is turned once into the canonical N-Quads
strings of its terms, and every later step (first-degree hashing, relabelling, output) only joins
those strings.

Section names below are those of https://www.w3.org/TR/rdf-canon/.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import permutations
from typing import Literal as TypingLiteral

from vc.rdf import IRI, BlankNode, Quad, iri_nquads, literal_nquads

HashAlgorithm = TypingLiteral["sha256", "sha384"]


@dataclass(frozen=True, slots=True)
class CanonLimits:
    """Bounds on one canonicalization; exceeding one raises `CanonicalizationLimitError`.

    `max_work` bounds Hash N-Degree Quads in units of roughly equal cost (about a microsecond of
    CPU each): a call costs 1 plus the number of related blank nodes it hashes, and each permutation
    examined costs its length plus one per 16 temporary identifiers copied with it. Credentials
    whose blank nodes all differ need 0; a few look-alike blank nodes (identical evidence or
    alignment entries) need a unit or so each; the hardest inputs in the W3C test suite that are
    meant to succeed (rdfc10 tests 044-046, "poison - evil") need 6,636. The default stops a poisoned
    dataset (test 074's 10-node clique, rings, grids, hub graphs) after about 0.1 s on one core.
    """

    max_quads: int = 10_000
    max_blank_nodes: int = 512
    max_work: int = 100_000

    def __post_init__(self) -> None:
        if min(self.max_quads, self.max_blank_nodes, self.max_work) < 0:
            raise ValueError("canonicalization limits cannot be negative")


DEFAULT_LIMITS = CanonLimits()


class CanonicalizationLimitError(Exception):
    """The dataset is larger, or needs more canonicalization work, than the limits allow."""


# Inside the algorithm a distinct quad is a 4-tuple of canonical N-Quads term strings (subject,
# predicate, object, graph; graph "" for the default graph). A blank node term is "_:" + its input
# label and is recognised by its first character: IRIs start with "<" and literals with '"'.
# `fastld` produces quads in this form directly.
TermQuad = tuple[str, str, str, str]


def _term_quads(quads: Sequence[Quad]) -> tuple[list[TermQuad], dict[str, str]]:
    """Each quad as term strings (one pass; the algorithm then only joins strings), and the
    predicates whose canonical form is escaped, mapped to their raw `<IRI>` (Hash Related Blank
    Node takes the predicate as it is)."""
    iri, literal = iri_nquads, literal_nquads
    keys: list[TermQuad] = []
    raw_predicates: dict[str, str] = {}
    for quad in quads:
        subject, obj, graph = quad.subject, quad.object, quad.graph
        s = f"_:{subject.id}" if isinstance(subject, BlankNode) else iri(subject.value)
        if isinstance(obj, IRI):
            o = iri(obj.value)
        elif isinstance(obj, BlankNode):
            o = f"_:{obj.id}"
        else:
            o = literal(obj)
        g = "" if graph is None else f"_:{graph.id}" if isinstance(graph, BlankNode) else iri(graph.value)
        p = iri(quad.predicate.value)
        if "\\" in p:
            raw_predicates[p] = f"<{quad.predicate.value}>"
        keys.append((s, p, o, g))
    return keys, raw_predicates


class _Canonicalizer:
    """The canonicalization state of one run; `run` is called once."""

    def __init__(
        self,
        keys: Sequence[TermQuad],
        limits: CanonLimits,
        algorithm: HashAlgorithm,
        raw_predicates: dict[str, str] | None = None,
    ) -> None:
        if len(keys) > limits.max_quads:
            raise CanonicalizationLimitError(
                f"the dataset has {len(keys)} quads, more than max_quads={limits.max_quads}"
            )
        if algorithm not in ("sha256", "sha384"):
            raise ValueError(f"hash algorithm {algorithm!r} is not supported (sha256 or sha384)")
        self.limits = limits
        self.new_hash: Callable[[bytes], hashlib._Hash] = getattr(hashlib, algorithm)
        self.work = 0
        self.calls = 0
        self.ground_lines: list[str] = []
        self.blank_quads: list[TermQuad] = []
        self.mentions: dict[str, list[TermQuad]] = {}  # the blank node to quads map
        self.first_degree: dict[str, str] = {}
        self.canonical: dict[str, str] = {}  # canonical issuer: "_:label" -> "c14nN"
        self.related: dict[str, list[tuple[str, str]]] = {}
        self.raw_predicates = raw_predicates or {}
        self._load(keys)

    def _load(self, keys: Sequence[TermQuad]) -> None:
        # A dataset is a set: duplicates go before any hashing (rdfc10 tests 076 and 077).
        seen: set[TermQuad] = set()
        mentions = self.mentions
        ground_lines, blank_quads = self.ground_lines, self.blank_quads
        for key in keys:
            if key in seen:
                continue
            seen.add(key)
            s, p, o, g = key
            if s[0] != "_" and o[0] != "_" and g[:1] != "_":
                ground_lines.append(f"{s} {p} {o} {g} .\n" if g else f"{s} {p} {o} .\n")
                continue
            blank_quads.append(key)
            for term in (s, o, g):
                if term[:1] != "_":
                    continue
                mentioned = mentions.get(term)
                if mentioned is None:
                    mentions[term] = [key]
                elif mentioned[-1] is not key:  # a mention *set*: one entry per quad
                    mentioned.append(key)
        if len(mentions) > self.limits.max_blank_nodes:
            raise CanonicalizationLimitError(
                f"the dataset has {len(mentions)} blank nodes, "
                f"more than max_blank_nodes={self.limits.max_blank_nodes}"
            )

    def _hash(self, data: str) -> str:
        return self.new_hash(data.encode("utf-8")).hexdigest()

    def run(self) -> list[str]:
        """The Canonicalization Algorithm: issue canonical identifiers, return the sorted lines."""
        if not self.mentions:
            return sorted(self.ground_lines)
        by_hash: dict[str, list[str]] = {}
        for node in self.mentions:
            by_hash.setdefault(self._hash_first_degree(node), []).append(node)
        shared: list[list[str]] = []
        for first_degree in sorted(by_hash):
            nodes = by_hash[first_degree]
            if len(nodes) == 1:
                self.canonical[nodes[0]] = f"c14n{len(self.canonical)}"
            else:
                shared.append(nodes)
        for nodes in shared:
            self._issue_shared(nodes)
        canonical = self.canonical
        lines = self.ground_lines
        for s, p, o, g in self.blank_quads:
            subject = "_:" + canonical[s] if s[0] == "_" else s
            obj = "_:" + canonical[o] if o[0] == "_" else o
            if g:
                graph = "_:" + canonical[g] if g[0] == "_" else g
                lines.append(f"{subject} {p} {obj} {graph} .\n")
            else:
                lines.append(f"{subject} {p} {obj} .\n")
        lines.sort()
        return lines

    def labels(self) -> dict[str, str]:
        """Input blank node label -> canonical label (the issued identifiers map)."""
        return {node[2:]: issued for node, issued in self.canonical.items()}

    def _hash_first_degree(self, node: str) -> str:
        """Hash First Degree Quads: the node's quads, with itself as `_:a` and other blank nodes `_:z`."""
        lines = []
        for s, p, o, g in self.mentions[node]:
            subject = ("_:a" if s == node else "_:z") if s[0] == "_" else s
            obj = ("_:a" if o == node else "_:z") if o[0] == "_" else o
            if g:
                graph = ("_:a" if g == node else "_:z") if g[0] == "_" else g
                lines.append(f"{subject} {p} {obj} {graph} .\n")
            else:
                lines.append(f"{subject} {p} {obj} .\n")
        lines.sort()
        result = self._hash("".join(lines))
        self.first_degree[node] = result
        return result

    def _issue_shared(self, nodes: list[str]) -> None:
        """Canonicalization Algorithm step 5: issue identifiers to blank nodes that share a
        first-degree hash, in the order of their n-degree hashes."""
        results: list[tuple[str, dict[str, str]]] = []
        for node in nodes:
            if node in self.canonical:
                continue
            try:
                results.append(self._hash_n_degree(node, {node: "b0"}))
            except RecursionError as error:
                raise CanonicalizationLimitError(
                    "Hash N-Degree Quads recursion is deeper than the interpreter allows: a chain of "
                    f"look-alike blank nodes ({len(self.mentions)} blank nodes; lower max_blank_nodes)"
                ) from error
        results.sort(key=lambda result: result[0])
        canonical = self.canonical
        for _, issuer in results:
            for existing in issuer:  # in the order the temporary identifiers were issued
                if existing not in canonical:
                    canonical[existing] = f"c14n{len(canonical)}"

    def _charge(self, units: int) -> None:
        self.work += units
        if self.work > self.limits.max_work:
            raise CanonicalizationLimitError(
                f"canonicalization needs more than max_work={self.limits.max_work} units of Hash "
                f"N-Degree Quads work ({self.calls} calls so far): the dataset has blank nodes that only "
                "an exponential search tells apart (RDFC-1.0 dataset poisoning)"
            )

    def _related(self, node: str) -> list[tuple[str, str]]:
        """(position + `<predicate>`, related blank node) for each other blank node in the mention set."""
        entries = self.related.get(node)
        if entries is None:
            entries = []
            raw = self.raw_predicates
            for subject, serialized, obj, graph in self.mentions[node]:
                predicate = raw.get(serialized, serialized)
                if subject[0] == "_" and subject != node:
                    entries.append(("s" + predicate, subject))
                if obj[0] == "_" and obj != node:
                    entries.append(("o" + predicate, obj))
                if graph[:1] == "_" and graph != node:
                    entries.append(("g", graph))
            self.related[node] = entries
        return entries

    def _hash_n_degree(self, node: str, issuer: dict[str, str]) -> tuple[str, dict[str, str]]:
        """Hash N-Degree Quads. `issuer` maps "_:label" -> "bN" in issue order (so its size is the
        identifier counter); it is never changed here, each permutation works on a copy."""
        related = self._related(node)
        self.calls += 1
        self._charge(1 + len(related))
        canonical, first_degree = self.canonical, self.first_degree
        by_hash: dict[str, list[str]] = {}
        for prefix, other in related:  # Hash Related Blank Node
            identifier = canonical.get(other) or issuer.get(other)
            suffix = "_:" + identifier if identifier is not None else first_degree[other]
            by_hash.setdefault(self._hash(prefix + suffix), []).append(other)
        data: list[str] = []
        for related_hash in sorted(by_hash):
            data.append(related_hash)
            chosen_path = ""
            chosen_issuer = issuer
            for permutation in permutations(by_hash[related_hash]):
                self._charge(len(permutation) + len(issuer) // 16)  # copying the issuer is not free
                issuer_copy = dict(issuer)
                path = ""
                recursion: list[str] = []
                skip = False
                for other in permutation:
                    identifier = canonical.get(other)
                    if identifier is None:
                        identifier = issuer_copy.get(other)
                        if identifier is None:
                            recursion.append(other)
                            identifier = issuer_copy[other] = f"b{len(issuer_copy)}"
                    path += "_:" + identifier
                    if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                        skip = True
                        break
                if skip:
                    continue
                for other in recursion:
                    result_hash, issuer_copy = self._hash_n_degree(other, issuer_copy)
                    identifier = issuer_copy.get(other)
                    if identifier is None:
                        identifier = issuer_copy[other] = f"b{len(issuer_copy)}"
                    path += f"_:{identifier}<{result_hash}>"
                    if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                        skip = True
                        break
                if skip:
                    continue
                if not chosen_path or path < chosen_path:
                    chosen_path, chosen_issuer = path, issuer_copy
            data.append(chosen_path)
            issuer = chosen_issuer
        return self._hash("".join(data)), issuer


def canonical_quads(
    quads: Sequence[Quad], *, limits: CanonLimits = DEFAULT_LIMITS, hash_algorithm: HashAlgorithm = "sha256"
) -> list[str]:
    """The canonical N-Quads lines of `quads` (RDFC-1.0), sorted, duplicates removed."""
    return _Canonicalizer(*_args(quads, limits, hash_algorithm)).run()


def canonicalize(
    quads: Sequence[Quad], *, limits: CanonLimits = DEFAULT_LIMITS, hash_algorithm: HashAlgorithm = "sha256"
) -> str:
    """The serialized canonical form of `quads` (RDFC-1.0): what `eddsa-rdfc-2022` hashes."""
    return "".join(_Canonicalizer(*_args(quads, limits, hash_algorithm)).run())


def canonicalize_terms(
    quads: Sequence[TermQuad],
    *,
    limits: CanonLimits = DEFAULT_LIMITS,
    hash_algorithm: HashAlgorithm = "sha256",
) -> str:
    """`canonicalize` for quads already given as canonical N-Quads term strings (`TermQuad`; no
    predicate may need escaping, as `fastld` guarantees)."""
    return "".join(_Canonicalizer(quads, limits, hash_algorithm).run())


def canonical_labels(
    quads: Sequence[Quad], *, limits: CanonLimits = DEFAULT_LIMITS, hash_algorithm: HashAlgorithm = "sha256"
) -> dict[str, str]:
    """Input blank node label -> canonical label (`c14nN`), RDFC-1.0's issued identifiers map."""
    canonicalizer = _Canonicalizer(*_args(quads, limits, hash_algorithm))
    canonicalizer.run()
    return canonicalizer.labels()


def _args(
    quads: Sequence[Quad], limits: CanonLimits, hash_algorithm: HashAlgorithm
) -> tuple[list[TermQuad], CanonLimits, HashAlgorithm, dict[str, str]]:
    keys, raw_predicates = _term_quads(quads)
    return keys, limits, hash_algorithm, raw_predicates
