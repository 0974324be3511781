"""RDF Dataset Canonicalization (RDFC-1.0, W3C Recommendation 21 May 2024), with a work budget.

RDFC-1.0 names every blank node `c14n0`, `c14n1`, … from what surrounds it, so that isomorphic
datasets serialize to the same canonical N-Quads, the bytes a Data Integrity proof signs. Most
blank nodes are told apart by their own statements (their first-degree hash, section 4.6). Blank
nodes that share one are ordered by Hash N-Degree Quads (section 4.8), which tries every
permutation of related look-alike blank nodes and recurses; a dataset built of many symmetric blank
nodes makes that exponential ("dataset poisoning", section 6.1). The specification requires
implementations to bound this work and fail early, so `CanonLimits` bounds the input size and the
Hash N-Degree Quads work, and exceeding a bound raises `CanonicalizationLimitError` instead of
keeping a worker busy for minutes.

The common case, where every blank node has its own first-degree hash, never reaches Hash
N-Degree Quads: each distinct quad is turned once into the canonical N-Quads strings of its terms
and every later step (first-degree hashing, relabelling, output) only joins those strings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import permutations
from typing import Literal as TypingLiteral

from services.runtime.vc.rdf import Quad, term_nquads

HashAlgorithm = TypingLiteral["sha256", "sha384"]


@dataclass(frozen=True, slots=True)
class CanonLimits:
    """Bounds on one canonicalization; exceeding one raises `CanonicalizationLimitError`.

    `max_work` counts Hash N-Degree Quads work in units that each cost about the same time: a call
    costs 1 plus the blank nodes related to it in its mention set (each is hashed), and every
    permutation examined costs its length. A credential whose blank nodes all differ needs 0; two
    or three look-alike blank nodes (e.g. identical evidence entries) need tens. The default stops
    a poisoned dataset after about a quarter of a second on one core, and still admits the
    "computable" poison graphs of the W3C test suite (rdfc10 tests 044-046, about 5,000 units
    each) while rejecting its negative test (074, a 10-blank-node clique).
    """

    max_quads: int = 10_000
    max_blank_nodes: int = 512
    max_work: int = 100_000


DEFAULT_LIMITS = CanonLimits()


class CanonicalizationLimitError(Exception):
    """The dataset is larger, or needs more canonicalization work, than the limits allow."""


# Inside the algorithm a distinct quad is a 4-tuple of canonical N-Quads term strings (subject,
# predicate, object, graph; graph "" for the default graph). A blank node term is "_:" + its input
# label and is recognised by its first character: IRIs start with "<" and literals with '"'.
_Key = tuple[str, str, str, str]


def _line(subject: str, predicate: str, obj: str, graph: str) -> str:
    if graph:
        return f"{subject} {predicate} {obj} {graph} .\n"
    return f"{subject} {predicate} {obj} .\n"


class _Canonicalizer:
    """State of one run (RDFC-1.0 section 4.2, "canonicalization state")."""

    def __init__(self, quads: Sequence[Quad], limits: CanonLimits, algorithm: HashAlgorithm) -> None:
        if len(quads) > limits.max_quads:
            raise CanonicalizationLimitError(
                f"the dataset has {len(quads)} quads; the limit (max_quads) is {limits.max_quads}"
            )
        if algorithm not in ("sha256", "sha384"):
            raise ValueError(f"hash algorithm {algorithm!r} is not supported (sha256 or sha384)")
        self.limits = limits
        self.new_hash: Callable[[bytes], hashlib._Hash] = getattr(hashlib, algorithm)
        self.work = 0
        self.calls = 0
        self.ground_lines: list[str] = []
        self.blank_quads: list[_Key] = []
        self.mentions: dict[str, list[_Key]] = {}  # blank node to quads map (section 4.3)
        self.first_degree: dict[str, str] = {}
        self.canonical: dict[str, str] = {}  # canonical issuer: "_:label" -> "c14nN"
        self.related: dict[str, list[tuple[str, str]]] = {}
        self.raw_predicates: dict[str, str] = {}
        self._load(quads)

    def _load(self, quads: Sequence[Quad]) -> None:
        # An RDF dataset is a set: duplicates are dropped before any hashing (rdfc10 test 076/077).
        distinct: dict[_Key, None] = {}
        for quad in quads:
            graph = quad.graph
            key = (
                term_nquads(quad.subject),
                term_nquads(quad.predicate),
                term_nquads(quad.object),
                "" if graph is None else term_nquads(graph),
            )
            distinct[key] = None
            if key[1] != f"<{quad.predicate.value}>":  # escaped; Hash Related Blank Node wants it raw
                self.raw_predicates[key[1]] = f"<{quad.predicate.value}>"
        mentions = self.mentions
        for key in distinct:
            subject, _, obj, graph = key
            blank = False
            for term in (subject, obj, graph):
                if term[:1] == "_":
                    blank = True
                    mentioned = mentions.get(term)
                    if mentioned is None:
                        mentions[term] = [key]
                    elif mentioned[-1] is not key:  # a mention *set*: one entry per quad
                        mentioned.append(key)
            if blank:
                self.blank_quads.append(key)
            else:
                self.ground_lines.append(_line(*key))
        if len(mentions) > self.limits.max_blank_nodes:
            raise CanonicalizationLimitError(
                f"the dataset has {len(mentions)} blank nodes; "
                f"the limit (max_blank_nodes) is {self.limits.max_blank_nodes}"
            )

    def _hash(self, data: str) -> str:
        return self.new_hash(data.encode("utf-8")).hexdigest()

    def run(self) -> list[str]:
        """Issue canonical identifiers (section 4.4) and return the sorted canonical lines."""
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
        for subject, predicate, obj, graph in self.blank_quads:
            if subject[:1] == "_":
                subject = "_:" + canonical[subject]
            if obj[:1] == "_":
                obj = "_:" + canonical[obj]
            if graph[:1] == "_":
                graph = "_:" + canonical[graph]
            lines.append(_line(subject, predicate, obj, graph))
        lines.sort()
        return lines

    def labels(self) -> dict[str, str]:
        """Input blank node label -> canonical label (the issued identifiers map)."""
        return {node[2:]: issued for node, issued in self.canonical.items()}

    def _hash_first_degree(self, node: str) -> str:
        """Hash First Degree Quads (section 4.6): the node's quads, itself as `_:a`, others `_:z`."""
        lines = []
        for subject, predicate, obj, graph in self.mentions[node]:
            if subject[:1] == "_":
                subject = "_:a" if subject == node else "_:z"
            if obj[:1] == "_":
                obj = "_:a" if obj == node else "_:z"
            if graph[:1] == "_":
                graph = "_:a" if graph == node else "_:z"
            lines.append(_line(subject, predicate, obj, graph))
        lines.sort()
        result = self._hash("".join(lines))
        self.first_degree[node] = result
        return result

    def _issue_shared(self, nodes: list[str]) -> None:
        """Section 4.4.3 step 5: order blank nodes sharing a first-degree hash by their n-degree hash."""
        results: list[tuple[str, dict[str, str]]] = []
        for node in nodes:
            if node in self.canonical:
                continue
            try:
                results.append(self._hash_n_degree(node, {node: "b0"}))
            except RecursionError as error:
                raise CanonicalizationLimitError(
                    "Hash N-Degree Quads recursion is deeper than the interpreter allows "
                    f"({len(self.mentions)} blank nodes in a chain of look-alikes)"
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
                f"canonicalization needs more than {self.limits.max_work} units of Hash N-Degree Quads "
                f"work (the limit max_work; {self.calls} calls so far): the dataset has blank nodes "
                "that only an exponential comparison can tell apart (RDFC-1.0 dataset poisoning)"
            )

    def _related(self, node: str) -> list[tuple[str, str]]:
        """(position + `<predicate>`, related blank node) for each other blank node in the mention set."""
        entries = self.related.get(node)
        if entries is None:
            entries = []
            raw = self.raw_predicates
            for subject, predicate, obj, graph in self.mentions[node]:
                predicate = raw.get(predicate, predicate)
                if subject[:1] == "_" and subject != node:
                    entries.append(("s" + predicate, subject))
                if obj[:1] == "_" and obj != node:
                    entries.append(("o" + predicate, obj))
                if graph[:1] == "_" and graph != node:
                    entries.append(("g", graph))
            self.related[node] = entries
        return entries

    def _hash_n_degree(self, node: str, issuer: dict[str, str]) -> tuple[str, dict[str, str]]:
        """Hash N-Degree Quads (section 4.8). `issuer` maps "_:label" -> "bN" in issue order (its
        size is the identifier counter); it is never changed here: permutations work on copies."""
        related = self._related(node)
        self.calls += 1
        self._charge(1 + len(related))
        canonical, first_degree = self.canonical, self.first_degree
        by_hash: dict[str, list[str]] = {}
        for prefix, other in related:  # Hash Related Blank Node (section 4.7)
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
    return _Canonicalizer(quads, limits, hash_algorithm).run()


def canonicalize(
    quads: Sequence[Quad], *, limits: CanonLimits = DEFAULT_LIMITS, hash_algorithm: HashAlgorithm = "sha256"
) -> str:
    """The serialized canonical form of `quads` (RDFC-1.0 section 4.5): what eddsa-rdfc-2022 hashes."""
    return "".join(_Canonicalizer(quads, limits, hash_algorithm).run())


def canonical_labels(
    quads: Sequence[Quad], *, limits: CanonLimits = DEFAULT_LIMITS, hash_algorithm: HashAlgorithm = "sha256"
) -> dict[str, str]:
    """Input blank node label -> canonical label (`c14nN`), RDFC-1.0's issued identifiers map."""
    canonicalizer = _Canonicalizer(quads, limits, hash_algorithm)
    canonicalizer.run()
    return canonicalizer.labels()
