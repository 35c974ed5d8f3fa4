"""The `x-pph-category*` annotations in events/*.schema.json are annotations only: every
document that the schemas accepted without them they accept with them, and no other (the
examples and an adversarial corpus built from them, with the values the annotations name)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from hub.domain.policy.categories import KEYWORDS

EVENTS = Path(__file__).resolve().parents[2] / "events"
SCHEMAS = sorted(EVENTS.glob("*.schema.json"))


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in KEYWORDS}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _keywords_in(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key.startswith("x-pph-"):
                yield key
            yield from _keywords_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from _keywords_in(value)


@cache
def _validators(name: str) -> tuple[Draft202012Validator, Draft202012Validator]:
    schema = json.loads((EVENTS / name).read_text("utf-8"))
    checker = FormatChecker()
    return (
        Draft202012Validator(schema, format_checker=checker),
        Draft202012Validator(_strip(schema), format_checker=checker),
    )


def _body_schema(event_type: str) -> str:
    return f"{event_type}.v1.schema.json"


def _examples() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted((EVENTS / "examples").glob("*.json")):
        document = json.loads(path.read_text("utf-8"))
        found.append((document["type"], document))
    return found


def _enum_values(node: Any) -> set[Any]:
    """Every enum and const value of a schema, and the keys of its category annotations."""
    found: set[Any] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "enum" and isinstance(value, list):
                found.update(v for v in value if isinstance(v, str | int | bool))
            elif key == "const" and isinstance(value, str | int | bool):
                found.add(value)
            elif key in KEYWORDS and isinstance(value, dict):
                found.update(value)
            found |= _enum_values(value)
    elif isinstance(node, list):
        for value in node:
            found |= _enum_values(value)
    return found


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from _paths(sub, (*prefix, index))


def _replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copied = copy.deepcopy(document)
    node = copied
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copied


def _remove(document: Any, path: tuple[Any, ...]) -> Any:
    copied = copy.deepcopy(document)
    node = copied
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return copied


def _same_verdict(schema_name: str, instance: Any) -> None:
    annotated, stripped = _validators(schema_name)
    assert annotated.is_valid(instance) == stripped.is_valid(instance), (schema_name, instance)


def test_every_schema_carries_category_annotations_of_known_keywords_only() -> None:
    used: set[str] = set()
    for path in SCHEMAS:
        used.update(_keywords_in(json.loads(path.read_text("utf-8"))))
    assert used == set(KEYWORDS)


@pytest.mark.parametrize(("event_type", "document"), _examples(), ids=lambda v: str(v)[:40])
def test_examples_are_accepted_with_and_without_the_annotations(
    event_type: str, document: dict[str, Any]
) -> None:
    annotated, stripped = _validators(_body_schema(event_type))
    assert annotated.is_valid(document["data"])
    assert stripped.is_valid(document["data"])
    envelope_annotated, envelope_stripped = _validators("envelope.v1.schema.json")
    assert envelope_annotated.is_valid(document)
    assert envelope_stripped.is_valid(document)


@pytest.mark.parametrize(("event_type", "document"), _examples(), ids=lambda v: str(v)[:40])
def test_an_adversarial_corpus_gets_the_same_verdict(
    event_type: str, document: dict[str, Any]
) -> None:
    """Each field of the example replaced by every enum value and annotated value of the
    schema, by values of the wrong type, or removed; an unknown field added."""
    name = _body_schema(event_type)
    schema = json.loads((EVENTS / name).read_text("utf-8"))
    values = sorted(_enum_values(schema), key=repr)
    junk: list[Any] = [None, "", 0, -1, True, [], {}, "x" * 5000, {"x-pph-category": "health"}]
    body = document["data"]
    verdicts = 0
    for path in _paths(body):
        for value in [*values, *junk]:
            _same_verdict(name, _replace(body, path, value))
            verdicts += 1
        if path:
            _same_verdict(name, _remove(body, path))
    _same_verdict(name, {**body, "x-pph-category": "health"})
    for path in _paths(document["identifiers"], ("identifiers",)):
        for value in [*junk, "0101900001", "24/123456X"]:
            _same_verdict("envelope.v1.schema.json", _replace(document, path, value))
    assert verdicts > len(values)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_examples()), st.data())
def test_generated_changes_to_the_examples_get_the_same_verdict(
    example: tuple[str, dict[str, Any]], data: st.DataObject
) -> None:
    event_type, document = example
    name = _body_schema(event_type)
    schema = json.loads((EVENTS / name).read_text("utf-8"))
    body = document["data"]
    path = data.draw(st.sampled_from(list(_paths(body))))
    value = data.draw(st.sampled_from(sorted(_enum_values(schema), key=repr)) | _JSON)
    _same_verdict(name, _replace(body, path, value))
