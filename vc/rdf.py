"""RDF terms and quads, their canonical N-Quads form, a small N-Quads parser, and pyld's dataset.

The canonical N-Quads line of a quad is what RDFC-1.0 hashes and what a Data Integrity proof signs,
so `serialize_nquad` follows RDFC-1.0 Appendix A ("A Canonical form of N-Quads") to the letter: one
space between terms, `xsd:string` never written, upper-case hex, and in literals exactly BS, HT,
LF, FF, CR, `"` and `\\` as ECHAR while the other C0 controls, DEL and the code points that are not
XML 1.1 `Char` (U+0000, lone surrogates, U+FFFE, U+FFFF) become `\\uXXXX`. Everything else is
written as itself: a second spelling of the same character would give a second signature input.

The parser exists for tests and for reading canonical output back; it accepts the N-Quads grammar
(comments, UCHAR/ECHAR escapes, `\\U` escapes) and rejects anything else with a line number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
_LANGUAGE_TAG = re.compile(r"[a-zA-Z]+(?:-[a-zA-Z0-9]+)*")  # the N-Quads LANGTAG production


@dataclass(frozen=True, slots=True)
class IRI:
    value: str


@dataclass(frozen=True, slots=True)
class BlankNode:
    """A blank node; `id` is its label without `_:` (labels only matter within one dataset)."""

    id: str


@dataclass(frozen=True, slots=True)
class Literal:
    """A literal; giving `language` makes it an `rdf:langString` (RDF 1.1 Concepts 3.3)."""

    value: str
    datatype: str = XSD_STRING
    language: str | None = None

    def __post_init__(self) -> None:
        if self.language is not None:
            # Written as is after "@": anything but a well-formed tag could forge a canonical line.
            if _LANGUAGE_TAG.fullmatch(self.language) is None:
                raise ValueError(f"{self.language!r} is not a well-formed language tag")
            if self.datatype not in (XSD_STRING, RDF_LANGSTRING):
                raise ValueError(f"a literal with a language tag cannot have datatype {self.datatype}")
            if self.datatype != RDF_LANGSTRING:
                object.__setattr__(self, "datatype", RDF_LANGSTRING)
        elif self.datatype == RDF_LANGSTRING:
            raise ValueError("an rdf:langString literal needs a language tag")


Subject = IRI | BlankNode
Object = IRI | BlankNode | Literal
Graph = IRI | BlankNode | None


@dataclass(frozen=True, slots=True)
class Quad:
    subject: Subject
    predicate: IRI
    object: Object
    graph: Graph = None


# --- canonical N-Quads --------------------------------------------------------------------------

_LITERAL_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}
_LITERAL_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\\x7f\ud800-\udfff\ufffe\uffff]')
# IRIREF cannot hold these characters as themselves, so UCHAR is their only spelling (lone
# surrogates have no UTF-8 form to hash). They make an invalid IRI, and the reference
# implementations write them raw, which can make one line read as another; escaping keeps every
# line unambiguous. Everything else in an IRI is written as itself, as those implementations do.
_IRI_NEEDS_ESCAPE = re.compile('[\x00-\x20<>"{}|^`\\\\\ud800-\udfff]')


def _uchar(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04X}"


def _literal_char(match: re.Match[str]) -> str:
    char = match.group()
    return _LITERAL_ESCAPES.get(char) or f"\\u{ord(char):04X}"


def escape_literal(value: str) -> str:
    """The STRING_LITERAL_QUOTE body of `value` in canonical form (RDFC-1.0 Appendix A)."""
    if _LITERAL_NEEDS_ESCAPE.search(value) is None:
        return value
    return _LITERAL_NEEDS_ESCAPE.sub(_literal_char, value)


@lru_cache(maxsize=4096)
def iri_nquads(value: str) -> str:
    """`<value>` in canonical form; cached because predicates and types repeat in every credential."""
    if _IRI_NEEDS_ESCAPE.search(value) is None:
        return f"<{value}>"
    return f"<{_IRI_NEEDS_ESCAPE.sub(_uchar, value)}>"


def literal_nquads(literal: Literal) -> str:
    """`"value"`, `"value"@lang` or `"value"^^<datatype>` in canonical form."""
    value = literal.value
    if _LITERAL_NEEDS_ESCAPE.search(value) is not None:
        value = _LITERAL_NEEDS_ESCAPE.sub(_literal_char, value)
    if literal.language is not None:
        return f'"{value}"@{literal.language}'
    if literal.datatype != XSD_STRING:
        return f'"{value}"^^{iri_nquads(literal.datatype)}'
    return f'"{value}"'


def term_nquads(term: Object) -> str:
    """One term in canonical N-Quads form (blank nodes keep their label)."""
    if isinstance(term, IRI):
        return iri_nquads(term.value)
    if isinstance(term, BlankNode):
        return f"_:{term.id}"
    return literal_nquads(term)


def serialize_nquad(quad: Quad) -> str:
    """The canonical N-Quads line of `quad`, ending in `" .\\n"`."""
    head = f"{term_nquads(quad.subject)} {iri_nquads(quad.predicate.value)} {term_nquads(quad.object)}"
    if quad.graph is None:
        return f"{head} .\n"
    return f"{head} {term_nquads(quad.graph)} .\n"


def serialize_nquads(quads: Iterable[Quad]) -> str:
    """The lines of `quads` in the order given (no sorting, no relabelling: see `rdfc`)."""
    return "".join(serialize_nquad(quad) for quad in quads)


# --- parsing --------------------------------------------------------------------------------------

_HEX4, _HEX8 = "[0-9A-Fa-f]{4}", "[0-9A-Fa-f]{8}"
_TOKEN = re.compile(
    rf"""[ \t]*(?:
      <(?P<iri>(?:[^\x00-\x20<>"{{}}|^`\\]|\\u{_HEX4}|\\U{_HEX8})*)>
    | _:(?P<bnode>[^\s<>"'.^@]+(?:\.+[^\s<>"'.^@]+)*)
    | "(?P<literal>(?:[^"\\\n\r]|\\[tbnrf"'\\]|\\u{_HEX4}|\\U{_HEX8})*)"
      (?:@(?P<language>[a-zA-Z]+(?:-[a-zA-Z0-9]+)*)|\^\^<(?P<datatype>(?:[^\x00-\x20<>"{{}}|^`\\]|\\u{_HEX4}|\\U{_HEX8})*)>)?
    | (?P<end>\.)[ \t]*(?:\#.*)?$
    )""",
    re.VERBOSE,
)
_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))")
_ECHARS = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_LINE_BREAK = re.compile(r"[\r\n]+")


def _unescape_one(match: re.Match[str]) -> str:
    code = match.group(1) or match.group(2)
    return chr(int(code, 16)) if code else _ECHARS[match.group(3)]


def _unescape(text: str) -> str:
    return _ESCAPE.sub(_unescape_one, text) if "\\" in text else text


def _parse_line(line: str, number: int) -> Quad | None:
    terms: list[Object] = []
    position = 0
    while True:
        match = _TOKEN.match(line, position)
        if match is None:
            rest = line[position:].strip(" \t")
            if not terms and (not rest or rest.startswith("#")):
                return None
            raise ValueError(f"N-Quads line {number}: cannot read {rest[:40]!r}")
        position = match.end()
        if match.group("end") is not None:
            break
        if match.group("iri") is not None:
            terms.append(IRI(_unescape(match.group("iri"))))
        elif match.group("bnode") is not None:
            terms.append(BlankNode(match.group("bnode")))
        else:
            datatype = match.group("datatype")
            datatype = XSD_STRING if datatype is None else _unescape(datatype)
            terms.append(Literal(_unescape(match.group("literal")), datatype, match.group("language")))
    if len(terms) not in (3, 4):
        raise ValueError(f"N-Quads line {number}: a statement has 3 or 4 terms, not {len(terms)}")
    subject, predicate, obj = terms[0], terms[1], terms[2]
    graph = terms[3] if len(terms) == 4 else None
    if isinstance(subject, Literal) or not isinstance(predicate, IRI) or isinstance(graph, Literal):
        raise ValueError(f"N-Quads line {number}: a term is in a position it cannot take")
    return Quad(subject, predicate, obj, graph)


def parse_nquads(text: str) -> list[Quad]:
    """The quads of an N-Quads document, in document order (duplicates kept)."""
    quads: list[Quad] = []
    # Not str.splitlines(): U+0085, U+2028 and friends may stand unescaped inside a literal.
    for number, line in enumerate(_LINE_BREAK.split(text), 1):
        quad = _parse_line(line, number)
        if quad is not None:
            quads.append(quad)
    return quads


# --- pyld -----------------------------------------------------------------------------------------


def _from_pyld_term(term: Mapping[str, Any]) -> Object:
    kind, value = term["type"], term["value"]
    if kind == "IRI":
        return IRI(value)
    if kind == "blank node":
        return BlankNode(value.removeprefix("_:"))
    if kind == "literal":
        return Literal(value, term.get("datatype") or XSD_STRING, term.get("language"))
    raise ValueError(f"unknown RDF term type {kind!r} in a pyld dataset")


def from_pyld_dataset(dataset: Mapping[str, Iterable[Mapping[str, Any]]]) -> list[Quad]:
    """The quads of the dataset `pyld.jsonld.to_rdf(document)` returns (no `format` option).

    pyld 3.3 returns `{graph name: [{"subject": term, "predicate": term, "object": term}]}` with
    the default graph under `"@default"`, blank node graph names as `"_:b3"`, and terms as
    `{"type": "IRI" | "blank node" | "literal", "value": …, "datatype": …, "language": …}`.
    Generalized RDF (a blank node predicate, a literal subject) is refused rather than dropped: a
    statement missing from the canonical form would be missing from the signature.
    """
    quads: list[Quad] = []
    for graph_name, triples in dataset.items():
        graph: Graph = None
        if graph_name != "@default":
            graph = BlankNode(graph_name[2:]) if graph_name.startswith("_:") else IRI(graph_name)
        for triple in triples:
            subject = _from_pyld_term(triple["subject"])
            predicate = _from_pyld_term(triple["predicate"])
            if isinstance(subject, Literal) or not isinstance(predicate, IRI):
                raise ValueError("generalized RDF (literal subjects, blank node predicates) is not supported")
            quads.append(Quad(subject, predicate, _from_pyld_term(triple["object"]), graph))
    return quads
