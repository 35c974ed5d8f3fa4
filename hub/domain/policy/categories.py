"""Data categories of the notification fields, read from the schemas' `x-pph-category*`
annotations (events/README.md, "Data categories"), and the questions the engine and the loader
ask of them: which granted fields may carry special-category data, which values in one
notification do, and which grants hide categorised fields inside a whole object.

Special categories are those of DPA 2018 s35(8) (sensitive processing) and UK GDPR Art 9.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from hub.domain.policy.rules import SchemaIndex, SchemaNode

#: DPA 2018 s35(8) and UK GDPR Art 9(1).
SPECIAL: Final = frozenset(
    {
        "health",
        "racial-or-ethnic-origin",
        "religious-belief",
        "political-opinion",
        "trade-union",
        "genetic",
        "biometric",
        "sex-life",
    }
)
#: Categories that are not special but that a reader of a rule should see: criminal-offence
#: data (UK GDPR Art 10), data about children, where the person is or lives, and identifiers.
OTHER: Final = frozenset({"criminal-offence", "child", "location", "identifier"})
CATEGORIES: Final = SPECIAL | OTHER

#: The field is always of these categories (a string or a list of strings).
CATEGORY: Final = "x-pph-category"
#: On a scalar: `{value: category}`; that value makes the field of that category.
CATEGORY_VALUES: Final = "x-pph-category-values"
#: `object` beside CATEGORY_VALUES: the value makes the whole object holding the field (one
#: licence condition: its `type` and its `detail`) of that category; `field` (the default) only
#: the field itself.
CATEGORY_VALUES_SCOPE: Final = "x-pph-category-values-scope"
#: `{source namespace: category}`: when the notification's `source` is in that namespace
#: (`urn:pph:<namespace>:…`), the field is of that category (a health board's free text).
CATEGORY_WHEN_SOURCE: Final = "x-pph-category-when-source"
KEYWORDS: Final = (CATEGORY, CATEGORY_VALUES, CATEGORY_VALUES_SCOPE, CATEGORY_WHEN_SOURCE)

#: Only these recipient roles may receive the CHI number (NHS Scotland's health index).
CHI_FIELD: Final = "identifiers.chi_number"
CHI_ROLES: Final = frozenset({"health-board"})


class CategoryAnnotationError(ValueError):
    """An `x-pph-category*` annotation that names no known category or is malformed."""


@dataclass(frozen=True, slots=True)
class FieldCategories:
    """What the schema says about the categories of one field path."""

    always: frozenset[str] = frozenset()
    by_value: Mapping[str, frozenset[str]] = field(default_factory=dict)
    by_source: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: Whether a value in `by_value` makes the object holding the field of its category.
    object_scope: bool = False

    @property
    def possible(self) -> frozenset[str]:
        """Every category the field may carry, whatever the values and the source."""
        found = set(self.always)
        for categories in (*self.by_value.values(), *self.by_source.values()):
            found.update(categories)
        return frozenset(found)

    @property
    def conditional(self) -> bool:
        return bool(self.by_value or self.by_source)


def _names(value: object, where: str) -> frozenset[str]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise CategoryAnnotationError(f"{where}: a category or a non-empty list of categories")
    unknown = sorted(set(names) - CATEGORIES)
    if unknown:
        known = ", ".join(sorted(CATEGORIES))
        raise CategoryAnnotationError(f"{where}: unknown category {unknown[0]!r}; known: {known}")
    return frozenset(names)


def _mapping_of_names(value: object, where: str) -> dict[str, frozenset[str]]:
    if not isinstance(value, Mapping) or not value:
        raise CategoryAnnotationError(f"{where}: a non-empty object of value → category")
    return {str(key): _names(sub, f"{where}.{key}") for key, sub in value.items()}


def annotations_of(node: SchemaNode, where: str) -> FieldCategories:
    """The categories the annotations of `node` (a property, through `$ref`/`allOf`) give."""
    always: set[str] = set()
    by_value: dict[str, frozenset[str]] = {}
    by_source: dict[str, frozenset[str]] = {}
    object_scope = False
    for schema in node.expanded():
        if CATEGORY_VALUES_SCOPE in schema:
            scope = schema[CATEGORY_VALUES_SCOPE]
            if scope not in ("field", "object") or CATEGORY_VALUES not in schema:
                raise CategoryAnnotationError(
                    f"{where} {CATEGORY_VALUES_SCOPE}: `field` or `object`, beside "
                    f"{CATEGORY_VALUES}"
                )
            object_scope = scope == "object"
        if CATEGORY in schema:
            always.update(_names(schema[CATEGORY], f"{where} {CATEGORY}"))
        if CATEGORY_VALUES in schema:
            by_value.update(
                _mapping_of_names(schema[CATEGORY_VALUES], f"{where} {CATEGORY_VALUES}")
            )
        if CATEGORY_WHEN_SOURCE in schema:
            by_source.update(
                _mapping_of_names(schema[CATEGORY_WHEN_SOURCE], f"{where} {CATEGORY_WHEN_SOURCE}")
            )
    return FieldCategories(frozenset(always), by_value, by_source, object_scope)


def _children(node: SchemaNode) -> list[tuple[str, SchemaNode]]:
    if "array" in node.types():
        items = node.items()
        if items is None:
            return []
        node = items
    found = []
    for name in node.property_names():
        child = node.child(name)
        if child is not None:
            found.append((name, child))
    return found


class CategoryIndex:
    """The annotated categories of every field path of every event type's envelope, paths
    written as rules write fields (lists flattened: `data.licence.conditions.type`)."""

    def __init__(self, schemas: SchemaIndex) -> None:
        self._schemas = schemas
        self._by_type: dict[str, dict[str, FieldCategories]] = {}
        envelope: dict[str, FieldCategories] = {}
        root = schemas.envelope_node([])
        assert not isinstance(root, str)
        for name, child in _children(root):
            if name != "data":
                self._collect(child, name, envelope)
        for event_type in sorted(schemas.event_types):
            paths = dict(envelope)
            body = schemas.body_node(event_type, [], through_lists=True)
            assert not isinstance(body, str)
            self._collect(body, "data", paths)
            self._by_type[event_type] = paths
        self._may_be_special = {
            event_type: any(f.possible & SPECIAL for f in paths.values())
            for event_type, paths in self._by_type.items()
        }

    def _collect(self, node: SchemaNode, path: str, into: dict[str, FieldCategories]) -> None:
        found = annotations_of(node, path)
        if found.always or found.conditional:
            into[path] = found
        for name, child in _children(node):
            self._collect(child, f"{path}.{name}", into)

    def node(self, event_type: str, path: str) -> SchemaNode | None:
        segments = path.split(".")
        if segments[0] == "data":
            found = self._schemas.body_node(event_type, segments[1:], through_lists=True)
        else:
            found = self._schemas.envelope_node(segments)
        return None if isinstance(found, str) else found

    def annotated(self, event_type: str) -> Mapping[str, FieldCategories]:
        """Every annotated path of `event_type`'s envelope and body."""
        return self._by_type.get(event_type, {})

    def may_be_special(self, event_type: str) -> bool:
        """Whether any field of `event_type` can carry special-category data, whatever its
        values and source (when not, no notification of the type has a special value)."""
        return self._may_be_special.get(event_type, False)

    def categories(self, event_type: str, path: str) -> FieldCategories:
        """What the schema says of `path`: its own annotations, those of the objects holding
        it, and the value-dependent ones of siblings whose values make the object theirs."""
        always: set[str] = set()
        by_value: dict[str, frozenset[str]] = {}
        by_source: dict[str, frozenset[str]] = {}
        for at, found in self.annotated(event_type).items():
            at_parent = at.rpartition(".")[0]
            if _covers(at, path):
                always.update(found.always)
                by_source.update(found.by_source)
            if at == path or (found.object_scope and _covers(at_parent, path)):
                by_value.update({f"{at}={v}": c for v, c in found.by_value.items()})
        return FieldCategories(frozenset(always), by_value, by_source)

    def within(self, event_type: str, path: str) -> dict[str, FieldCategories]:
        """The annotated paths strictly inside `path`."""
        return {at: f for at, f in self.annotated(event_type).items() if _within(at, path)}

    def children(self, event_type: str, path: str) -> list[str]:
        """The paths of the fields directly inside `path` (through list items)."""
        node = self.node(event_type, path)
        return [] if node is None else [f"{path}.{name}" for name, _ in _children(node)]


def _within(inner: str, outer: str) -> bool:
    return inner.startswith(outer + ".")


def _covers(granted: str, path: str) -> bool:
    return path == granted or path.startswith(granted + ".")


def sensitive_fields(
    schema_index: SchemaIndex | CategoryIndex, event_type: str, fields: Iterable[str]
) -> frozenset[str]:
    """The paths of `fields` (granted for `event_type`) that may disclose special-category
    data: the field, an object holding it or anything inside it is annotated special, always,
    for some value or for some source. Used by the loader to require a justification."""
    if isinstance(schema_index, CategoryIndex):
        index = schema_index
    else:
        index = category_index(schema_index)
    found = set()
    for granted in fields:
        if index.categories(event_type, granted).possible & SPECIAL:
            found.add(granted)
            continue
        inside = index.within(event_type, granted).values()
        if any(f.possible & SPECIAL for f in inside):
            found.add(granted)
    return frozenset(found)


def source_namespace(source: str) -> str | None:
    """`nhs` for `urn:pph:nhs:…`; None for a source not in the hub's scheme."""
    parts = source.split(":")
    return parts[2] if len(parts) > 2 and parts[:2] == ["urn", "pph"] else None


def special_values(
    index: CategoryIndex, event_type: str, document: Mapping[str, Any]
) -> dict[str, frozenset[str]]:
    """The field paths of `document` (an envelope) that carry special-category data in this
    notification, given its values and its source, with those categories. A path through a list
    is special when any item's value makes it so."""
    if not index.may_be_special(event_type):
        return {}  # every category below comes from an annotation: none can be special
    namespace = source_namespace(str(document.get("source", "")))
    annotated = index.annotated(event_type)
    found: dict[str, set[str]] = {}

    def add(path: str, categories: Iterable[str]) -> None:
        special = set(categories) & SPECIAL
        if special:
            found.setdefault(path, set()).update(special)

    def walk(value: Any, path: str, inherited: frozenset[str]) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item, path, inherited)
            return
        annotation = annotated.get(path) if path else None
        own = set(inherited)
        if annotation is not None:
            own.update(annotation.always)
            if namespace is not None:
                own.update(annotation.by_source.get(namespace, frozenset()))
        if type(value) is dict or isinstance(value, Mapping):  # the exact type first: cheaper
            # A value that makes its object special (one licence condition) makes every field
            # of that object special, in this item only.
            from_values: set[str] = set()
            for key, sub in value.items():
                child = annotated.get(f"{path}.{key}" if path else str(key))
                if child is not None and child.object_scope and isinstance(sub, str | bool | int):
                    from_values.update(child.by_value.get(_text(sub), frozenset()))
            for key, sub in value.items():
                walk(sub, f"{path}.{key}" if path else str(key), frozenset(own | from_values))
            if not value:
                add(path, own)
            return
        if annotation is not None and isinstance(value, str | bool | int):
            own.update(annotation.by_value.get(_text(value), frozenset()))
        add(path, own)

    walk(document, "", frozenset())
    return {path: frozenset(categories) for path, categories in sorted(found.items())}


def _text(value: str | bool | int) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def without(
    index: CategoryIndex, event_type: str, fields: Sequence[str], withheld: Iterable[str]
) -> tuple[str, ...]:
    """`fields` less every path in `withheld`: a granted object holding a withheld path is
    replaced by its other fields, as the schema lists them."""
    out: set[str] = set()
    withheld = sorted(set(withheld))

    def keep(granted: str) -> None:
        if any(_covers(w, granted) for w in withheld):
            return
        if not any(_within(w, granted) for w in withheld):
            out.add(granted)
            return
        for child in index.children(event_type, granted):
            keep(child)

    for granted in fields:
        keep(granted)
    return tuple(sorted(out))


def justifies_special(legal_basis: object) -> bool:
    """Whether a rule's legal basis records a justification for special-category data: the
    `sensitive` condition (DPA 2018 Part 3 s35(4)/(5)) or the `special` one (UK GDPR Art 9).
    A basis that is free text (the format before issue 15) records none."""
    if isinstance(legal_basis, str) or legal_basis is None:
        return False
    if isinstance(legal_basis, Mapping):
        return bool(legal_basis.get("sensitive") or legal_basis.get("special"))
    return bool(getattr(legal_basis, "sensitive", None) or getattr(legal_basis, "special", None))


_INDEXES: Final[weakref.WeakKeyDictionary[SchemaIndex, CategoryIndex]] = weakref.WeakKeyDictionary()


def category_index(schemas: SchemaIndex) -> CategoryIndex:
    """The CategoryIndex of `schemas`, built once per SchemaIndex."""
    found = _INDEXES.get(schemas)
    if found is None:
        found = _INDEXES[schemas] = CategoryIndex(schemas)
    return found


def grant_problem(
    schemas: SchemaIndex, field_path: str, on: Sequence[str], roles: Iterable[str]
) -> str | None:
    """Why a permit rule on `on`, sharing with `roles`, may not grant `field_path`, or None:
    `identifiers` whole, the CHI number to a role that is not a health board, or a whole object
    holding fields of a special or value-dependent category that the object itself is not."""
    if field_path == "identifiers":
        return (
            "`identifiers` granted whole: grant the identifier schemes the recipient needs one "
            "by one (identifiers.pnc_id, identifiers.sw_client_id, …)"
        )
    if field_path == CHI_FIELD:
        others = sorted({role for role in roles if role not in CHI_ROLES})
        if others:
            return (
                f"`{CHI_FIELD}` (the NHS Community Health Index number) goes only to "
                f"{', '.join(sorted(CHI_ROLES))} recipients; this rule shares with "
                f"{', '.join(others)}"
            )
        return None
    index = category_index(schemas)
    hidden: set[str] = set()
    for event_type in on:
        own = index.categories(event_type, field_path).always
        for at, found in index.within(event_type, field_path).items():
            if found.object_scope and at.rpartition(".")[0] == field_path:
                continue  # the value makes the object granted its category: nothing hidden
            if (found.possible & SPECIAL or found.conditional) and not found.possible <= own:
                categories = ", ".join(sorted(found.possible))
                hidden.add(f"{at} ({categories}{', by value' if found.by_value else ''})")
    if hidden:
        return (
            f"`{field_path}` grants a whole object holding categorised fields: "
            f"{'; '.join(sorted(hidden))}; grant the fields the recipient needs one by one"
        )
    return None
