"""RDF terms, canonical N-Quads lines (RDFC-1.0 Appendix A), the parser, and pyld's datasets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyld import jsonld  # type: ignore[import-untyped]

from vc.rdf import (
    IRI,
    RDF_LANGSTRING,
    XSD_STRING,
    BlankNode,
    Literal,
    Quad,
    escape_literal,
    from_pyld_dataset,
    parse_nquads,
    serialize_nquad,
)

XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"
S, P = IRI("http://example.org/s"), IRI("http://example.org/p")


@pytest.mark.parametrize(
    ("char", "expected"),
    [
        # ECHAR: exactly BS, HT, LF, FF, CR, quotation mark and backslash.
        ("\b", "\\b"),
        ("\t", "\\t"),
        ("\n", "\\n"),
        ("\f", "\\f"),
        ("\r", "\\r"),
        ('"', '\\"'),
        ("\\", "\\\\"),
        # UCHAR with upper-case hex: U+0000-U+0007, VT, U+000E-U+001F, DEL, and non-XML-1.1 Char.
        ("\x00", "\\u0000"),
        ("\x07", "\\u0007"),
        ("\x0b", "\\u000B"),
        ("\x0e", "\\u000E"),
        ("\x1f", "\\u001F"),
        ("\x7f", "\\u007F"),
        ("\ud800", "\\uD800"),
        ("\udfff", "\\uDFFF"),
        ("\ufffe", "\\uFFFE"),
        ("\uffff", "\\uFFFF"),
        # Everything else as itself, including the apostrophe and C1 controls.
        ("'", "'"),
        ("\x80", "\x80"),
        ("\x85", "\x85"),
        ("\u2028", "\u2028"),
        ("é", "é"),
        ("\U0001f303", "\U0001f303"),
        (" <>{}|^`", " <>{}|^`"),
    ],
)
def test_literal_escaping_follows_rdfc_appendix_a(char: str, expected: str) -> None:
    assert escape_literal(f"a{char}b") == f"a{expected}b"


@pytest.mark.parametrize(
    ("quad", "line"),
    [
        (Quad(S, P, Literal("plain")), '<http://example.org/s> <http://example.org/p> "plain" .\n'),
        (
            Quad(S, P, Literal("plain", XSD_STRING)),
            '<http://example.org/s> <http://example.org/p> "plain" .\n',
        ),
        (
            Quad(S, P, Literal("7", XSD_INTEGER)),
            '<http://example.org/s> <http://example.org/p> "7"^^'
            "<http://www.w3.org/2001/XMLSchema#integer> .\n",
        ),
        (
            Quad(S, P, Literal("chat", language="fr")),
            '<http://example.org/s> <http://example.org/p> "chat"@fr .\n',
        ),
        (
            Quad(BlankNode("b0"), P, BlankNode("b1"), BlankNode("g")),
            "_:b0 <http://example.org/p> _:b1 _:g .\n",
        ),
        (
            Quad(S, P, IRI("http://example.org/o"), IRI("http://example.org/g")),
            "<http://example.org/s> <http://example.org/p> <http://example.org/o> <http://example.org/g> .\n",
        ),
        # Characters IRIREF cannot hold as themselves (and lone surrogates, which have no UTF-8
        # form) are written as UCHAR, never raw; everything else in an IRI as itself.
        (
            Quad(IRI("http://example.org/a b>"), P, IRI("urn:x:\u00a0∞\x7f\ufffe\ud800")),
            "<http://example.org/a\\u0020b\\u003E> <http://example.org/p> "
            "<urn:x:\u00a0∞\x7f\ufffe\\uD800> .\n",
        ),
    ],
)
def test_canonical_lines(quad: Quad, line: str) -> None:
    assert serialize_nquad(quad) == line
    assert parse_nquads(line) == [quad]


def test_a_language_tag_makes_a_lang_string() -> None:
    assert Literal("chat", language="fr").datatype == RDF_LANGSTRING
    assert Literal("chat", RDF_LANGSTRING, "fr") == Literal("chat", language="fr")
    with pytest.raises(ValueError, match="language tag"):
        Literal("7", XSD_INTEGER, "en")
    with pytest.raises(ValueError, match="needs a language tag"):
        Literal("chat", RDF_LANGSTRING)
    with pytest.raises(ValueError, match="not a well-formed language tag"):
        Literal("x", language='en .\n<http://example.org/s> <http://example.org/p> "forged"')


def test_parser_reads_the_n_quads_grammar() -> None:
    text = (
        "# a comment\r\n"
        '<http://example.org/s>\t<http://example.org/p>"x\\u00E9\\U0001F303\\\'\\t"@en-GB.\n'
        "_:a.b <http://example.org/p> _:c  <http://example.org/g> . # trailing comment\n"
        "\n"
        '<http://ex\\u0061mple.org/s> <http://example.org/p> "1"^^<http://example.org/\\u0064t> .'
    )
    assert parse_nquads(text) == [
        Quad(S, P, Literal("xé\U0001f303'\t", language="en-GB")),
        Quad(BlankNode("a.b"), P, BlankNode("c"), IRI("http://example.org/g")),
        Quad(S, P, Literal("1", "http://example.org/dt")),
    ]


@pytest.mark.parametrize(
    "line",
    [
        '<http://example.org/s> <http://example.org/p> "x"',  # no final "."
        '"x" <http://example.org/p> <http://example.org/o> .',  # literal subject
        "<http://example.org/s> _:p <http://example.org/o> .",  # blank node predicate
        '<http://example.org/s> <http://example.org/p> <http://example.org/o> "g" .',  # literal graph
        "<http://example.org/s> <http://example.org/p> .",  # two terms
        '<http://example.org/s> <http://example.org/p> "bad \\x escape" .',
        "<http://example.org/a b> <http://example.org/p> <http://example.org/o> .",  # raw space in IRI
    ],
)
def test_parser_rejects_what_is_not_n_quads(line: str) -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_nquads("<http://example.org/s> <http://example.org/p> <http://example.org/o> .\n" + line)


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=[]) | st.sampled_from("\ud800\udfff"))


@given(_TEXT, st.sampled_from([None, "en", "de-CH"]), st.sampled_from([XSD_STRING, XSD_INTEGER]))
def test_any_literal_round_trips_through_its_canonical_line(text: str, language: str | None, dt: str) -> None:
    literal = Literal(text, language=language) if language else Literal(text, dt)
    line = serialize_nquad(Quad(S, P, literal))
    assert line.count("\n") == 1 and "\r" not in line  # one line, whatever the text
    assert parse_nquads(line) == [Quad(S, P, literal)]


def test_from_pyld_dataset_agrees_with_pyld_n_quads() -> None:
    document = {
        "@context": {
            "@vocab": "http://example.org/",
            "when": {"@type": "http://www.w3.org/2001/XMLSchema#dateTime"},
            "items": {"@container": "@list"},
        },
        "@id": "http://example.org/doc",
        "name": 'Näme "quoted"\n',
        "label": {"@value": "chat", "@language": "fr"},
        "when": "2024-01-01T00:00:00Z",
        "count": 3,
        "ratio": 1.5,
        "ok": True,
        "items": ["a", {"nested": "b"}],
        "part": {"@id": "_:g", "@graph": {"@id": "http://example.org/inner", "in": "graph"}},
    }
    ours = from_pyld_dataset(jsonld.to_rdf(document))
    theirs = parse_nquads(jsonld.to_rdf(document, {"format": "application/n-quads"}))
    assert sorted(map(serialize_nquad, ours)) == sorted(map(serialize_nquad, theirs))
    assert Quad(IRI("http://example.org/doc"), IRI("http://example.org/ok"), Literal(
        "true", "http://www.w3.org/2001/XMLSchema#boolean")) in ours  # fmt: skip
    assert any(isinstance(quad.graph, BlankNode) for quad in ours)


def test_from_pyld_dataset_refuses_generalized_rdf() -> None:
    triple = {
        "subject": {"type": "IRI", "value": "http://example.org/s"},
        "predicate": {"type": "blank node", "value": "_:p"},
        "object": {"type": "literal", "value": "x", "datatype": XSD_STRING},
    }
    with pytest.raises(ValueError, match="generalized RDF"):
        from_pyld_dataset({"@default": [triple]})
