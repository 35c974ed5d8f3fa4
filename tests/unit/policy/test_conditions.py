"""The condition language: each operator, missing values, wrong types, and the decision view;
every case is checked with the Python evaluator and with Cedar, which must agree."""

from __future__ import annotations

from typing import Any

import pytest

from hub.domain.policy.conditions import (
    MISSING,
    AllOf,
    AnyOf,
    Compare,
    Condition,
    Not,
    ValuePath,
    ViewShape,
    describe,
    evaluate_conditions,
    lookup,
)

from .support import python_and_cedar, unchecked

LEVEL = ValuePath.parse("event.data.level")
KIND = ValuePath.parse("event.data.release.type")
TAGS = ValuePath.parse("event.data.tags")
SCHEDULE1 = ValuePath.parse("profile.schedule1")

DATA: dict[str, Any] = {"level": 2, "release": {"type": "planned"}, "tags": ["violent", "sexual"]}
PROFILE: dict[str, Any] = {"schedule1": True}


def check(condition: Condition, expected: bool, data: Any = None, profile: Any = None) -> None:
    python, cedar = python_and_cedar(
        (condition,), DATA if data is None else data, PROFILE if profile is None else profile
    )
    assert (python, cedar) == (expected, expected), describe(condition)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (Compare(KIND, "equals", "planned"), True),
        (Compare(KIND, "equals", "possible"), False),
        (Compare(SCHEDULE1, "equals", True), True),
        (Compare(SCHEDULE1, "equals", False), False),
        (Compare(LEVEL, "equals", 2), True),
        (Compare(KIND, "in", ("possible", "planned")), True),
        (Compare(KIND, "in", ("possible",)), False),
        (Compare(KIND, "not", "possible"), True),
        (Compare(KIND, "not", "planned"), False),
        (Compare(KIND, "not_in", ("possible", "x")), True),
        (Compare(KIND, "not_in", ("planned", "x")), False),
        (Compare(LEVEL, "at_least", 2), True),
        (Compare(LEVEL, "at_least", 3), False),
        (Compare(LEVEL, "at_most", 2), True),
        (Compare(LEVEL, "at_most", 1), False),
        (Compare(TAGS, "contains", "violent"), True),
        (Compare(TAGS, "contains", "drugs"), False),
        (Compare(KIND, "present", True), True),
        (Compare(KIND, "present", False), False),
        (AnyOf((Compare(LEVEL, "equals", 9), Compare(KIND, "equals", "planned"))), True),
        (AnyOf((Compare(LEVEL, "equals", 9), Compare(KIND, "equals", "x"))), False),
        (AllOf((Compare(LEVEL, "equals", 2), Compare(KIND, "equals", "planned"))), True),
        (AllOf((Compare(LEVEL, "equals", 2), Compare(KIND, "equals", "x"))), False),
        (Not(Compare(KIND, "equals", "x")), True),
        (Not(Compare(KIND, "equals", "planned")), False),
    ],
    ids=lambda value: describe(value) if not isinstance(value, bool) else str(value),
)
def test_each_operator(condition: Condition, expected: bool) -> None:
    check(condition, expected)


@pytest.mark.parametrize(
    "condition",
    [
        Compare(KIND, "equals", "planned"),
        Compare(KIND, "in", ("planned",)),
        Compare(KIND, "not", "possible"),
        Compare(KIND, "not_in", ("possible",)),
        Compare(LEVEL, "at_least", 0),
        Compare(LEVEL, "at_most", 9),
        Compare(TAGS, "contains", "violent"),
        Compare(KIND, "present", True),
    ],
    ids=describe,
)
def test_a_missing_value_makes_every_comparison_false(condition: Condition) -> None:
    check(condition, False, data={"release": {}}, profile={})
    check(condition, False, data={}, profile={})
    check(Compare(KIND, "present", False), True, data={}, profile={})


def test_a_value_of_the_wrong_type_never_errors_and_never_matches() -> None:
    wrong = {"level": "2", "release": "planned", "tags": "violent"}
    check(Compare(LEVEL, "at_least", 1), False, data=wrong)
    check(Compare(LEVEL, "equals", 2), False, data=wrong)
    check(Compare(TAGS, "contains", "violent"), False, data=wrong)
    check(Compare(KIND, "equals", "planned"), False, data=wrong)
    check(Compare(SCHEDULE1, "equals", True), False, profile={"schedule1": 1})
    check(Compare(SCHEDULE1, "equals", True), False, profile={"schedule1": "true"})


def test_not_means_present_and_different() -> None:
    check(Compare(KIND, "not", "possible"), False, data={})
    check(Not(Compare(KIND, "equals", "possible")), True, data={})


def test_values_cedar_cannot_hold_are_made_harmless() -> None:
    odd = {"level": 2.0, "release": {"type": None}, "tags": [1.5, None, {"a": 1}, "violent"]}
    check(Compare(LEVEL, "at_least", 1), False, data=odd)
    check(Compare(KIND, "present", True), False, data=odd)
    check(Compare(TAGS, "contains", "violent"), True, data=odd)
    check(Compare(LEVEL, "equals", 2), False, data={"level": 2**70})
    check(Compare(KIND, "not", "x"), True, data={"release": {"type": {"nested": 1.5}}})


def test_the_view_holds_only_the_paths_rules_read() -> None:
    shape = ViewShape([(KIND, "any"), (LEVEL, "number"), (SCHEDULE1, "any")])
    event = unchecked(
        {"type": "custody.admission", "data": {**DATA, "secret": "x"}, "identifiers": {}}
    )
    view = shape.view(event, {"schedule1": True, "home_area": "S12000049"})
    assert view == {
        "event": {"data": {"level": 2, "release": {"type": "planned"}}},
        "profile": {"schedule1": True},
    }
    assert lookup(view, KIND) == "planned"
    assert lookup(view, TAGS) is MISSING
    assert "follows_person_to" in shape.view(event, {}, "hmp-barlinnie")


def test_a_path_read_as_a_number_cannot_also_have_fields() -> None:
    with pytest.raises(ValueError, match="compared as a number"):
        ViewShape([(LEVEL, "number"), (ValuePath.parse("event.data.level.x"), "any")])


def test_failed_conditions_say_which_and_whether_the_value_was_missing() -> None:
    shape = ViewShape([(KIND, "any"), (SCHEDULE1, "any")])
    event = unchecked({"type": "custody.admission", "data": DATA, "identifiers": {}})
    conditions = (Compare(KIND, "equals", "possible"), Compare(SCHEDULE1, "equals", True))
    results = evaluate_conditions(conditions, shape.view(event, {}))
    assert [r.holds for r in results] == [False, False]
    assert results[0].reason() == 'event.data.release.type is "possible": does not hold'
    assert results[1].reason() == (
        "profile.schedule1 is true: does not hold (no value at profile.schedule1)"
    )


def test_describe_reads_as_the_rule_does() -> None:
    condition = AllOf(
        (
            Compare(KIND, "in", ("possible", "planned")),
            Not(Compare(LEVEL, "at_most", 1)),
            Compare(SCHEDULE1, "present", False),
        )
    )
    assert describe(condition) == (
        'all of (event.data.release.type is one of ["possible", "planned"]; '
        "not (event.data.level is at most 1); profile.schedule1 has no value)"
    )


def test_paths_parse_and_refuse_non_paths() -> None:
    assert str(ValuePath.parse("event.identifiers.pnc_id")) == "event.identifiers.pnc_id"
    for text in ("data.level", "event", "event..x", "profile"):
        with pytest.raises(ValueError, match="is not a path"):
            ValuePath.parse(text)
