"""STAND-IN until p15-categories lands (Q2 owns this module and replaces it whole): the
special-category fields a rule grants, read from the `x-pph-category` annotations of the event
schemas (DPA 2018 s35(8) sensitive processing; UK GDPR Art 9 special categories)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from hub.domain.policy.rules import SchemaIndex, SchemaNode

#: DPA 2018 s35(8) / UK GDPR Art 9(1).
SPECIAL_CATEGORIES: Final = frozenset(
    {
        "health",
        "racial-or-ethnic-origin",
        "religious-belief",
        "sex-life",
        "genetic",
        "biometric",
        "political-opinion",
        "trade-union",
    }
)


def sensitive_fields(
    schema_index: SchemaIndex, event_type: str, fields: Sequence[str]
) -> frozenset[str]:
    """The granted envelope paths (of `fields`) whose schema property, or anything inside it,
    carries a special category."""
    found = set()
    for path in fields:
        segments = path.split(".")
        node = (
            schema_index.body_node(event_type, segments[1:], through_lists=True)
            if segments[0] == "data"
            else schema_index.envelope_node(segments)
        )
        if isinstance(node, SchemaNode) and _special_within(node, depth=0):
            found.add(path)
    return frozenset(found)


def _special_within(node: SchemaNode, depth: int) -> bool:
    if depth > 20:
        return False
    for schema in node.expanded():
        if _is_special(schema):
            return True
    for name in node.property_names():
        child = node.child(name)
        if child is not None and _special_within(child, depth + 1):
            return True
    items = node.items()
    return items is not None and _special_within(items, depth + 1)


def _is_special(schema: Mapping[str, Any]) -> bool:
    category = schema.get("x-pph-category")
    if category in SPECIAL_CATEGORIES:
        return True
    values = schema.get("x-pph-category-values")
    when_source = schema.get("x-pph-category-when-source")
    return any(
        isinstance(options, Mapping) and any(c in SPECIAL_CATEGORIES for c in options.values())
        for options in (values, when_source)
    )
