"""The compiled fast validator in front of `jsonschema` (hub.domain.schemas) never changes an
answer: for every example notification and many ways of spoiling each of its fields, validating
gives exactly what `jsonschema` alone gives, the same notification or the same problems."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.domain.notifications import Notification
from hub.domain.schemas import SchemaRegistry
from hub.errors import InvalidNotification

EVENTS = Path(__file__).resolve().parents[2] / "events"

#: Values that a validator with other regex, format or number semantics could take differently.
_TRICKY: list[object] = [
    None,
    True,
    0,
    1.0,
    -1,
    10**30,
    math.nan,
    "",
    "x" * 300,
    "a\n",
    "a\x1c",
    "a\u2028b",
    "\u0661\u0662",  # Arabic-Indic digits: `\d` in Python, not in ECMA or Rust
    "2024-02-30",
    "2024-01-01T00:00:60Z",
    "2024-01-01t09:30:00z",
    "2024-01-01T09:30:00",
    "0001-01-01T00:00:00+14:00",
    [],
    {},
]


def _spoilt(value: object) -> list[object]:
    """`value` changed in ways that keep it close to valid."""
    if isinstance(value, str):
        return [value + "\n", value + "\x1f", " " + value, value.lower(), value.upper()]
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1, float(value), str(value)]
    if isinstance(value, list):
        return [value + value, value[:-1]]
    return []


def _variants(notification: Any, path: tuple[str | int, ...] = ()) -> Iterator[Any]:
    """The notification with one field at or under `path` removed, replaced or added to."""
    node = notification
    for token in path:
        node = node[token]
    children = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
    if isinstance(node, dict):
        yield _changed(notification, path, lambda n: n.__setitem__("unexpected_field", "x"))
    for key, value in children:
        if isinstance(node, dict):
            yield _changed(notification, path, lambda n, k=key: n.pop(k))
        for replacement in [*_TRICKY, *_spoilt(value)]:
            yield _changed(notification, path, lambda n, k=key, r=replacement: n.__setitem__(k, r))
        if isinstance(value, dict | list):
            yield from _variants(notification, (*path, key))


def _changed(notification: Any, path: tuple[str | int, ...], change: Any) -> Any:
    copied = copy.deepcopy(notification)
    node = copied
    for token in path:
        node = node[token]
    change(node)
    return copied


def _answer(validate: Any, raw: object) -> Notification | tuple[str, object]:
    try:
        result: Notification = validate(raw)
    except InvalidNotification as error:  # UnknownEventType is one too
        return type(error).__name__, [(p.pointer, p.message) for p in error.problems]
    return result


@pytest.fixture(scope="module")
def schemas() -> SchemaRegistry:
    return SchemaRegistry.load(EVENTS)


@pytest.mark.parametrize(
    "example", sorted(p.name for p in (EVENTS / "examples").glob("*.json")), ids=str
)
def test_the_fast_path_gives_the_answers_of_jsonschema_alone(
    schemas: SchemaRegistry, example: str
) -> None:
    notification = json.loads((EVENTS / "examples" / example).read_text())
    accepted = refused = 0
    for variant in [notification, *_variants(notification)]:
        fast = _answer(schemas.validate, variant)
        slow = _answer(schemas._validate_slowly, variant)
        assert fast == slow, variant
        if isinstance(slow, Notification):
            accepted += 1
        else:
            refused += 1
    # The variants exercise both answers (the example itself is valid).
    assert accepted >= 1
    assert refused >= 10


@pytest.mark.parametrize("unchecked_format", ["email", "x-made-up"])
def test_a_format_the_contract_does_not_check_refuses_nothing(unchecked_format: str) -> None:
    # jsonschema checks only `date` and `date-time`; the fast validator knows `email` too (and
    # says no: jsonschema then decides), and must not fail the load on a format it does not know.
    envelope = json.loads((EVENTS / "envelope.v1.schema.json").read_text())
    body = json.loads((EVENTS / "custody.admission.v1.schema.json").read_text())
    body["properties"]["committing_court"]["format"] = unchecked_format
    schemas = SchemaRegistry(envelope, {("custody.admission", 1): body})
    notification = json.loads((EVENTS / "examples" / "custody.admission.json").read_text())
    court = notification["data"]["committing_court"]
    assert "@" not in court  # not an email
    assert schemas.validate(notification).data["committing_court"] == court
