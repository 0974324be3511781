"""JSON-LD to RDF without re-processing contexts: the fast path of `eddsa-rdfc-2022`.

The general path (`jsonld.to_quads`: pyld's expansion, node map and toRDF) spends about 90 % of a
proof re-reading the same pinned contexts and building intermediate JSON-LD. This module walks the
compact document once and writes the quads straight away, as canonical N-Quads term strings
(`rdfc.TermQuad`), for the subset of JSON-LD 1.1 that credentials actually use:

* `@context`: only at the top, a list of pinned context URLs (the same check as the general path);
* keys: terms of the active context (including aliases of `@id` and `@type`) and `@id`/`@type`;
* term definitions with an absolute `@id`, `@type` `@id`, `@vocab` or a datatype IRI,
  `@container` `@set` or `@list`, property-scoped and type-scoped contexts (processed by pyld
  itself, once per process, and kept in `_Ctx` objects);
* values: strings, booleans, numbers, nested node objects, arrays, `null`.

Everything else (a term no context defines, compact IRIs and absolute IRIs used as keys, relative
or blank node identifiers, value objects, `@graph`/`@index`/`@language`/`@json` containers and
values, language-tagged strings, reverse properties, embedded contexts, anything pyld refuses) raises
`Unsupported`, and `canonical_document` then takes the general path. So the fast path never has to
reproduce an error message or an edge case: it only has to produce the same dataset as pyld where
it answers at all, which the differential tests check (tests/unit/vc/test_fastld.py).

The expansion rules mirror pyld 3.3's `JsonLdProcessor._expand`, `_expand_object`,
`_prepare_nested_context`, `_expand_value`, `_expand_iri` and `_object_to_rdf` step by step (the
names in comments below are theirs); pyld is pinned to one version for that reason.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyld import jsonld  # type: ignore[import-untyped]

from vc.jsonld import (
    ISSUER_DEPENDENT,
    ContextStore,
    canonical_double,
    check_context_value,
    check_size,
    context_resolver,
    default_store,
    to_quads,
)
from vc.rdf import escape_literal, iri_nquads
from vc.rdfc import DEFAULT_LIMITS, CanonLimits, TermQuad, canonicalize, canonicalize_terms

XSD = "http://www.w3.org/2001/XMLSchema#"
XSD_STRING, XSD_BOOLEAN = f"{XSD}string", f"{XSD}boolean"
XSD_INTEGER, XSD_DOUBLE = f"{XSD}integer", f"{XSD}double"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDF_TYPE, RDF_FIRST, RDF_REST = f"<{RDF}type>", f"<{RDF}first>", f"<{RDF}rest>"
RDF_NIL = f"<{RDF}nil>"
_ABSOLUTE_IRI = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*|_):[^\s]*$")  # pyld's _is_absolute_iri
# Derived contexts (a type-scoped context inside a property-scoped one, ...) per store; real
# credentials need a few dozen, a document that needs more takes the general path.
MAX_CONTEXTS = 1024
MAX_CACHED_IRIS = 4096  # per context: the type and term IRIs seen, not identifiers


class Unsupported(Exception):
    """The document uses JSON-LD the fast path does not handle; take the general path."""


@dataclass(frozen=True, slots=True, eq=False)
class _Term:
    """A property term, resolved once per active context."""

    predicate: str  # canonical N-Quads form, "<…>"
    coerce: str | None  # "@id", "@vocab", a datatype IRI, or None
    is_list: bool
    scoped: Any  # the property-scoped local context, or None


_ID, _TYPE = "@id", "@type"


class _Ctx:
    """One pyld active context plus what the fast path derives from it, computed once."""

    __slots__ = (
        "children",
        "has_default_language",
        "mappings",
        "raw",
        "registry",
        "shapes",
        "terms",
        "vocab_iris",
    )

    def __init__(self, raw: dict[str, Any], registry: _Contexts) -> None:
        self.raw = raw
        self.mappings: dict[str, Any] = raw["mappings"]
        self.registry = registry
        self.children: dict[Any, tuple[Any, _Ctx]] = {}
        self.terms: dict[str, _Term | str] = {}
        self.vocab_iris: dict[str, str] = {}
        self.has_default_language = "@language" in raw or "@direction" in raw
        self.shapes: dict[tuple[str | None, tuple[str, ...]], _Shape] = {}

    @property
    def previous(self) -> _Ctx | None:
        previous = self.raw.get("previousContext")
        return None if previous is None else self.registry.wrap(previous)

    def process(self, local: Any, *, propagate: bool = True, override_protected: bool = False) -> _Ctx:
        """pyld's _process_context, memoised: the same local context on the same active context
        gives the same result, so each combination is processed once per process."""
        key = (tuple(local) if isinstance(local, list) else id(local), propagate, override_protected)
        cached = self.children.get(key)
        if cached is not None:
            return cached[1]
        raw = self.registry.processor._process_context(
            self.raw, local, self.registry.options, override_protected=override_protected, propagate=propagate
        )
        child = self.registry.wrap(raw)
        self.children[key] = (local, child)  # holds `local`, so its id() stays unique
        return child

    def key(self, key: str) -> str | None:
        """_expand_iri(key, vocab=True) for a key: a keyword, or a term's IRI; None otherwise."""
        if key[:1] == "@":
            return key
        mapping = self.mappings.get(key)
        return None if mapping is None else mapping["@id"]

    def term(self, key: str) -> _Term | str:
        """The property term `key`, or "@id"/"@type" for an alias; `Unsupported` for the rest."""
        known = self.terms.get(key)
        if known is not None:
            return known
        if key in (_ID, _TYPE):
            return key
        mapping = self.mappings.get(key)
        if mapping is None:
            raise Unsupported(f"{key!r} is not a term of the active context")
        iri = mapping["@id"]
        if iri in (_ID, _TYPE):
            resolved: _Term | str = iri
        else:
            if not isinstance(iri, str) or not _is_plain_iri(iri):
                raise Unsupported(f"term {key!r} does not map to an absolute IRI")
            if mapping.get("reverse") or "@nest" in mapping or "@index" in mapping:
                raise Unsupported(f"term {key!r} is a reverse, nested or indexed property")
            if "@language" in mapping or "@direction" in mapping:
                raise Unsupported(f"term {key!r} has a language or direction")
            container = mapping.get("@container") or []
            if any(entry not in ("@set", "@list") for entry in container) or len(container) > 1:
                raise Unsupported(f"term {key!r} has container {container}")
            coerce = mapping.get("@type")
            if coerce is not None and coerce not in (_ID, "@vocab") and not _is_plain_iri(coerce):
                raise Unsupported(f"term {key!r} has type {coerce!r}")
            predicate = iri_nquads(iri)
            if "\\" in predicate:
                raise Unsupported(f"term {key!r} has an IRI that needs escaping")
            resolved = _Term(predicate, coerce, "@list" in container, mapping.get("@context"))
        if len(self.terms) < MAX_CACHED_IRIS:
            self.terms[key] = resolved
        return resolved

    def vocab_iri(self, value: Any) -> str:
        """_expand_iri(value, vocab=True) for a type or an @vocab-coerced value (absolute only)."""
        known = self.vocab_iris.get(value) if isinstance(value, str) else None
        if known is not None:
            return known
        if not isinstance(value, str):
            raise Unsupported("a type is not a string")
        if value in self.mappings:
            mapping = self.mappings[value]
            if mapping is None:
                raise Unsupported(f"{value!r} is mapped to null")
            iri = mapping["@id"]
            if not isinstance(iri, str) or not _is_plain_iri(iri):
                raise Unsupported(f"{value!r} does not map to an absolute IRI")
        else:
            iri = self.document_iri(value)
        if len(self.vocab_iris) < MAX_CACHED_IRIS:
            self.vocab_iris[value] = iri
        return iri

    def document_iri(self, value: Any) -> str:
        """_expand_iri(value, base='') for an identifier, where the result is an absolute IRI."""
        if not isinstance(value, str):
            raise Unsupported("an identifier is not a string")
        colon = value.find(":")
        if colon <= 0 or value[0] == "@":
            raise Unsupported(f"{value!r} is not an absolute IRI")
        prefix, suffix = value[:colon], value[colon + 1 :]
        if prefix == "_":
            raise Unsupported("blank node identifiers take the general path")
        if suffix[:2] == "//":
            iri = value
        else:
            mapping = self.mappings.get(prefix)
            iri = mapping["@id"] + suffix if mapping and mapping["_prefix"] else value
        if not _is_plain_iri(iri):
            raise Unsupported(f"{value!r} is not an absolute IRI")
        return iri


def _is_plain_iri(iri: str) -> bool:
    """Absolute in pyld's sense (else pyld drops the quad), not a blank node, and defined (safe
    mode: the issuer-dependent vocabulary means "no context defines it")."""
    return (
        _ABSOLUTE_IRI.match(iri) is not None
        and not iri.startswith("_:")
        and not iri.startswith(ISSUER_DEPENDENT)
    )


class _Contexts:
    """The active contexts derived from one store's pinned contexts, created on first use."""

    def __init__(self, store: ContextStore) -> None:
        self.processor = jsonld.JsonLdProcessor()
        self.options = {
            "documentLoader": store.load,
            "base": None,
            "processingMode": "json-ld-1.1",
            "isFrame": False,
            "keepFreeFloatingNodes": False,
            "extractAllScripts": True,
            "contextResolver": context_resolver(store),
        }
        self.by_id: dict[int, _Ctx] = {}
        self.initial = self.wrap(self.processor._get_initial_context(self.options))

    def wrap(self, raw: dict[str, Any]) -> _Ctx:
        known = self.by_id.get(id(raw))
        if known is not None and known.raw is raw:
            return known
        if len(self.by_id) >= MAX_CONTEXTS:
            raise Unsupported("more derived contexts than the fast path keeps")
        context = _Ctx(raw, self)
        self.by_id[id(raw)] = context
        return context


def _contexts(store: ContextStore) -> _Contexts:
    contexts = store.compiled.get("fastld")
    if contexts is None:
        contexts = store.compiled["fastld"] = _Contexts(store)
    return contexts


@dataclass(frozen=True, slots=True, eq=False)
class _Shape:
    """How to expand node objects with one set of keys under one active context and property
    (pyld `_expand`, object branch, up to the type-scoped contexts): computed once per shape."""

    context: _Ctx  # after reverting a type-scoped context and applying a property-scoped one
    type_keys: tuple[str, ...]  # the keys that expand to @type, sorted (the order contexts apply)
    plans: dict[tuple[str, ...], _Plan]  # by the node's types


@dataclass(frozen=True, slots=True, eq=False)
class _Plan:
    """The rest of the expansion for one shape and one set of types (`_prepare_nested_context`,
    `_expand_object`): the subject key and, per key, its term and the context of its values."""

    context: _Ctx  # after the type-scoped contexts: identifiers are expanded in it
    type_scoped: _Ctx  # the context types are expanded in
    id_key: str | None
    properties: tuple[tuple[str, _Term, _Ctx], ...]


MAX_SHAPES = 1024  # per active context; a document with more distinct shapes is expanded uncached


def _shape(
    active: _Ctx, active_property: str | None, keys: tuple[str, ...], element: dict[str, Any]
) -> _Shape:
    property_scoped = None
    if active_property is not None:
        mapping = active.mappings.get(active_property)
        property_scoped = None if mapping is None else mapping.get("@context")
    if "@context" in element:
        raise Unsupported("embedded @context")
    previous = active.previous
    if previous is not None:  # revert a type-scoped context, unless element is a reference
        must_revert = True
        if len(keys) <= 2:
            for key in keys:
                expanded = active.key(key)
                if expanded == "@value":
                    raise Unsupported("value objects take the general path")
                if expanded == _ID and len(keys) == 1:
                    must_revert = False
        if must_revert:
            active = previous
    if property_scoped is not None:
        active = active.process(property_scoped, override_protected=True)
    type_keys = tuple(sorted(key for key in keys if active.key(key) == _TYPE))
    return _Shape(active, type_keys, {})


def _plan(shape: _Shape, keys: tuple[str, ...], types: tuple[str, ...]) -> _Plan:
    active = type_scoped = shape.context
    for type_name in types:
        mapping = type_scoped.mappings.get(type_name)
        scoped = None if mapping is None else mapping.get("@context")
        if scoped is not None and scoped is not False:
            active = active.process(scoped, propagate=False)
    id_key = None
    properties: list[tuple[str, _Term, _Ctx]] = []
    for key in keys:
        term = active.term(key)
        if (term == _TYPE) != (key in shape.type_keys):  # a type-scoped context (un)aliased @type
            raise Unsupported(f"{key!r} is @type in one context but not in the other")
        if term == _ID:
            if id_key is not None:
                raise Unsupported("colliding @id keys")
            id_key = key
        elif isinstance(term, _Term):
            term_ctx = active
            if term.scoped is not None:
                term_ctx = active.process(term.scoped, override_protected=True)
                if term_ctx.mappings.get(key) is not active.mappings.get(key):
                    raise Unsupported(f"{key!r} is redefined by its own scoped context")
            properties.append((key, term, term_ctx))
    return _Plan(active, type_scoped, id_key, tuple(properties))


def _types(element: dict[str, Any], type_keys: tuple[str, ...]) -> tuple[str, ...]:
    """The string values of the @type keys, sorted per key (pyld applies their contexts so)."""
    types: list[str] = []
    for key in type_keys:
        value = element[key]
        if isinstance(value, str):
            types.append(value)
        else:
            types.extend(
                sorted(t for t in (value if isinstance(value, list) else [value]) if isinstance(t, str))
            )
    return tuple(types)


class _Writer:
    """The quads of one document; blank nodes are numbered in the order they are met (labels do
    not matter: RDFC-1.0 relabels them)."""

    __slots__ = ("blank_nodes", "quads")

    def __init__(self) -> None:
        self.quads: list[TermQuad] = []
        self.blank_nodes = 0

    def blank(self) -> str:
        self.blank_nodes += 1
        return f"_:b{self.blank_nodes}"

    def node(self, active: _Ctx, active_property: str | None, element: dict[str, Any]) -> str:
        """Expand the node object `element` and write its quads; return its subject term."""
        keys = tuple(element)
        shape_key = (active_property, keys)
        shape = active.shapes.get(shape_key)
        if shape is None:
            shape = _shape(active, active_property, keys, element)
            if len(active.shapes) < MAX_SHAPES:
                active.shapes[shape_key] = shape
        return self.expand(shape, keys, element)

    def top(self, active: _Ctx, document: dict[str, Any]) -> None:
        """The document node: its @context applies (pyld `_prepare_nested_context`)."""
        keys = tuple(key for key in document if key != "@context")
        context = active.process(document["@context"])
        shape_key = (None, keys)
        shape = context.shapes.get(shape_key)
        if shape is None:
            shape = _Shape(context, tuple(sorted(key for key in keys if context.key(key) == _TYPE)), {})
            if len(context.shapes) < MAX_SHAPES:
                context.shapes[shape_key] = shape
        self.expand(shape, keys, document)

    def expand(self, shape: _Shape, keys: tuple[str, ...], element: dict[str, Any]) -> str:
        types = _types(element, shape.type_keys) if shape.type_keys else ()
        plan = shape.plans.get(types)
        if plan is None:
            plan = _plan(shape, keys, types)
            if len(shape.plans) < MAX_SHAPES:
                shape.plans[types] = plan
        quads = self.quads
        subject = iri_nquads(plan.context.document_iri(element[plan.id_key])) if plan.id_key else self.blank()
        for key in shape.type_keys:
            value = element[key]
            for type_name in value if isinstance(value, list) else [value]:
                quads.append((subject, RDF_TYPE, iri_nquads(plan.type_scoped.vocab_iri(type_name)), ""))
        for key, term, term_ctx in plan.properties:
            value = element[key]
            if value is None:
                continue
            if term.is_list:
                quads.append((subject, term.predicate, self.list(term_ctx, key, term, value), ""))
            elif isinstance(value, list):
                for item in value:
                    self.values(term_ctx, key, term, item, subject)
            elif type(value) is str and term.coerce is None and not term_ctx.has_default_language:
                quads.append((subject, term.predicate, f'"{escape_literal(value)}"', ""))
            else:
                self.values(term_ctx, key, term, value, subject)
        return subject

    def values(self, active: _Ctx, key: str, term: _Term, value: Any, subject: str) -> None:
        """Write (subject, term, object) for each value (pyld `_expand`, array branch: nested
        arrays are flattened, nulls dropped)."""
        if isinstance(value, list):
            for item in value:
                self.values(active, key, term, item, subject)
        elif value is not None:
            self.quads.append((subject, term.predicate, self.object(active, key, term, value), ""))

    def object(self, active: _Ctx, key: str, term: _Term, value: Any) -> str:
        if isinstance(value, dict):
            return self.node(active, key, value)
        if isinstance(value, list):
            raise Unsupported("a list of lists")
        return _scalar(active, term, value)

    def list(self, active: _Ctx, key: str, term: _Term, value: Any) -> str:
        """An @list container: rdf:first/rdf:rest (pyld `_list_to_rdf`)."""
        items = [item for item in (value if isinstance(value, list) else [value]) if item is not None]
        nodes = [self.blank() for _ in items] + [RDF_NIL]
        for index, item in enumerate(items):
            self.quads.append((nodes[index], RDF_FIRST, self.object(active, key, term, item), ""))
            self.quads.append((nodes[index], RDF_REST, nodes[index + 1], ""))
        return nodes[0]


def _scalar(active: _Ctx, term: _Term, value: Any) -> str:
    """A scalar property value as an RDF term (pyld `_expand_value` then `_object_to_rdf`)."""
    coerce = term.coerce
    if isinstance(value, str):
        if coerce == _ID:
            return iri_nquads(active.document_iri(value))
        if coerce == "@vocab":
            return iri_nquads(active.vocab_iri(value))
        if coerce is None and active.has_default_language:
            raise Unsupported("a default language applies")
    datatype = coerce if coerce not in (None, _ID, "@vocab") else None
    if value is True or value is False:
        lexical, datatype = ("true" if value else "false"), datatype or XSD_BOOLEAN
    elif isinstance(value, float) and not value.is_integer():
        if not math.isfinite(value):
            raise Unsupported("a non-finite number")
        lexical, datatype = canonical_double(value), datatype or XSD_DOUBLE
    elif datatype == XSD_DOUBLE:
        try:
            number = float(value)
        except (ValueError, TypeError):
            lexical = value
        else:
            if not math.isfinite(number):
                raise Unsupported("a non-finite number") from None
            lexical = canonical_double(number)
    elif isinstance(value, int | float):
        if abs(value) >= 1e21:
            lexical, datatype = canonical_double(value), datatype or XSD_DOUBLE
        else:
            lexical, datatype = str(int(value)), datatype or XSD_INTEGER
    elif isinstance(value, str):
        lexical = value
    else:
        raise Unsupported(f"a value of type {type(value).__name__}")
    if datatype is None or datatype == XSD_STRING:
        return f'"{escape_literal(lexical)}"'
    return f'"{escape_literal(lexical)}"^^{iri_nquads(datatype)}'


def term_quads(document: Mapping[str, Any], *, store: ContextStore | None = None) -> list[TermQuad]:
    """The RDF dataset of `document` as term strings; `Unsupported` when the fast path does not
    handle it, `JsonLdSafeModeError` for a context that is not pinned (as the general path)."""
    store = store or default_store()
    if not isinstance(document, dict) or "@context" not in document:
        raise Unsupported("not a JSON object with @context")
    check_context_value(document["@context"], store)
    if not isinstance(document["@context"], list):
        raise Unsupported("@context is not a list")
    writer = _Writer()
    try:
        writer.top(_contexts(store).initial, document)
    except jsonld.JsonLdError as error:  # e.g. a protected term redefined: the general path says so
        raise Unsupported(str(error)) from error
    return writer.quads


def canonical_document(
    document: Mapping[str, Any], *, store: ContextStore | None = None, limits: CanonLimits = DEFAULT_LIMITS
) -> str:
    """The RDFC-1.0 canonical N-Quads of `document`: the fast path where it applies, otherwise the
    general path (pyld expansion), with the same result either way. Both paths refuse a document
    beyond `DocumentLimits` first (`JsonLdLimitError`), so what is refused does not depend on the
    path a document takes."""
    check_size(document)
    try:
        quads = term_quads(document, store=store)
    except Unsupported:
        return canonicalize(to_quads(document, store=store), limits=limits)
    return canonicalize_terms(quads, limits=limits)
