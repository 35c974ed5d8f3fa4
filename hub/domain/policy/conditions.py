"""The condition language of sharing rules: paths, conditions, the *decision view* both evaluators
read, and a Python evaluator that says which condition failed.

Cedar makes the decision (`cedar.py`); this evaluator exists so that a denial can name the
condition that did not hold. Both read the same decision view, built here, and a property test
holds them to the same answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from hub.domain.notifications import Notification

#: The operators of `PATH: {operator: argument}`; a bare `PATH: VALUE` is `equals`.
OPERATORS: Final = ("in", "not", "not_in", "at_least", "at_most", "contains", "present")

#: The smallest and largest whole numbers a condition (or Cedar) can hold: Cedar's `Long`.
LONG_MIN: Final = -(2**63)
LONG_MAX: Final = 2**63 - 1

Scalar = str | int | bool
Operator = Literal["equals", "in", "not", "not_in", "at_least", "at_most", "contains", "present"]
#: What a rule does with the value at a path, which decides what the decision view keeps there:
#: `number` for `at_least`/`at_most`, `list` for `contains`, `any` otherwise.
Kind = Literal["any", "number", "list", "never"]


class _Missing:
    """The value at a path that has none."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


@dataclass(frozen=True, slots=True, order=True)
class ValuePath:
    """A path to a value: `event.<...>` in the notification, or `profile.<attribute>`."""

    root: Literal["event", "profile"]
    segments: tuple[str, ...]

    def __str__(self) -> str:
        return ".".join((self.root, *self.segments))

    @classmethod
    def parse(cls, text: str) -> ValuePath:
        """`event.data.release.type` → ValuePath; ValueError if it is not a path at all."""
        root, _, rest = text.partition(".")
        segments = tuple(rest.split(".")) if rest else ()
        if root not in ("event", "profile") or not segments or any(not s for s in segments):
            raise ValueError(f"`{text}` is not a path: paths start with `event.` or `profile.`")
        return cls("event" if root == "event" else "profile", segments)

    def startswith(self, other: ValuePath) -> bool:
        return self.root == other.root and self.segments[: len(other.segments)] == other.segments


@dataclass(frozen=True, slots=True)
class Compare:
    """`PATH: VALUE` or `PATH: {operator: argument}`."""

    path: ValuePath
    op: Operator
    #: a scalar; a tuple of scalars for `in`/`not_in`; a boolean for `present`.
    value: Scalar | tuple[Scalar, ...]
    line: int = 0


@dataclass(frozen=True, slots=True)
class AnyOf:
    conditions: tuple[Condition, ...]
    line: int = 0


@dataclass(frozen=True, slots=True)
class AllOf:
    conditions: tuple[Condition, ...]
    line: int = 0


@dataclass(frozen=True, slots=True)
class Not:
    condition: Condition
    line: int = 0


Condition = Compare | AnyOf | AllOf | Not


def paths_of(condition: Condition) -> Iterable[tuple[ValuePath, Kind]]:
    """Every path a condition reads, with what it does with the value there."""
    match condition:
        case Compare(path=path, op=op):
            kind: Kind = (
                "number" if op in ("at_least", "at_most") else "list" if op == "contains" else "any"
            )
            yield path, kind
        case AnyOf(conditions=items) | AllOf(conditions=items):
            for item in items:
                yield from paths_of(item)
        case Not(condition=inner):
            yield from paths_of(inner)


# --- the decision view ------------------------------------------------------------------------


def is_long(value: object) -> bool:
    return type(value) is int and LONG_MIN <= value <= LONG_MAX


def is_scalar(value: object) -> bool:
    """A value a condition can compare: a string, a whole number Cedar can hold, a boolean."""
    if type(value) is str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: not text Cedar can hold
            return False
        return True
    return type(value) is bool or is_long(value)


def _leaf(value: object, kind: Kind) -> object:
    """What the decision view holds at a path the rules read.

    A value Cedar cannot compare without an error is made harmless here, so that a wrong type in
    a profile (or an unvalidated test event) makes a condition false and never breaks a decision:
    at a `number` path only a whole number counts as a value; at a `list` path only a list; inside
    a list only scalars are kept (the only thing `contains` can find); an object or any other value
    stands as an empty record: present, but equal to nothing a rule can name."""
    if value is None or kind == "never":
        return MISSING
    if kind == "number":
        return value if is_long(value) else MISSING
    if isinstance(value, list | tuple):
        return [item for item in value if is_scalar(item)]
    if kind == "list":
        return MISSING
    return value if is_scalar(value) else {}


def _combine(first: Kind, second: Kind) -> Kind:
    if first == second or second == "any":
        return first
    if first == "any":
        return second
    return "never"  # a number and a list at once: no value can be both


class ViewShape:
    """Which paths the bundle's rules read, and how: the shape of every decision view.

    The view holds only those paths (nested records under `event` and `profile`, as the paths
    name them), which keeps the Cedar context small and guarantees every intermediate value is a
    record, so a `has` chain never meets a string."""

    def __init__(self, paths: Iterable[tuple[ValuePath, Kind]]) -> None:
        kinds: dict[ValuePath, Kind] = {}
        for path, kind in paths:
            kinds[path] = _combine(kinds[path], kind) if path in kinds else kind
        for path, kind in kinds.items():
            if kind in ("number", "list") and any(
                other != path and other.startswith(path) for other in kinds
            ):
                raise ValueError(f"{path} is compared as a {kind} but also has fields read")
        self.kinds: Mapping[ValuePath, Kind] = dict(sorted(kinds.items()))

    def view(
        self,
        notification: Notification,
        profile: Mapping[str, Any],
        follows_person_to: str | None = None,
    ) -> dict[str, Any]:
        """The decision view of one notification, with the profile as it stood at it."""
        sources: dict[str, Mapping[str, Any]] = {
            "event": {
                "type": notification.type,
                "source": notification.source,
                "time": notification.time.isoformat(),
                "identifiers": {i.scheme: i.value for i in notification.identifiers},
                "data": notification.data,
            },
            "profile": profile,
        }
        view: dict[str, Any] = {"event": {}, "profile": {}}
        for path, kind in self.kinds.items():
            value: object = sources[path.root]
            for segment in path.segments:
                # The exact type first: the ABC check costs more than the lookup.
                if not (type(value) is dict or isinstance(value, Mapping)) or segment not in value:
                    value = MISSING
                    break
                value = value[segment]
            if value is MISSING:
                continue
            leaf = _leaf(value, kind)
            if leaf is MISSING:
                continue
            node: dict[str, Any] = view[path.root]
            for segment in path.segments[:-1]:
                node = node.setdefault(segment, {})
            last = path.segments[-1]
            if isinstance(leaf, dict) and isinstance(node.get(last), dict):
                continue  # a deeper path has already put the fields it reads here
            node[last] = leaf
        if follows_person_to is not None:
            view["follows_person_to"] = follows_person_to
        return view


def lookup(view: Mapping[str, Any], path: ValuePath) -> Any:
    """The value at `path` in a decision view, or MISSING."""
    value: Any = view[path.root]
    for segment in path.segments:
        if not (type(value) is dict or isinstance(value, Mapping)) or segment not in value:
            return MISSING
        value = value[segment]
    return value


# --- the Python evaluator ---------------------------------------------------------------------


def _same(value: object, expected: Scalar) -> bool:
    # `True == 1` in Python but not in Cedar, nor in a data-sharing agreement.
    return type(value) is type(expected) and value == expected


def holds(condition: Condition, view: Mapping[str, Any]) -> bool:
    """Whether `condition` holds in the decision view (the same answer Cedar gives)."""
    match condition:
        case Compare(path=path, op=op, value=expected):
            value = lookup(view, path)
            if op == "present":
                return (value is not MISSING) is expected
            if value is MISSING:
                return False
            if op == "equals":
                return _same(value, expected)  # type: ignore[arg-type]
            if op == "in":
                return any(_same(value, e) for e in expected)  # type: ignore[union-attr]
            if op == "not":
                return not _same(value, expected)  # type: ignore[arg-type]
            if op == "not_in":
                return not any(_same(value, e) for e in expected)  # type: ignore[union-attr]
            if op == "at_least":
                return is_long(value) and value >= expected
            if op == "at_most":
                return is_long(value) and value <= expected
            if op == "contains":
                items = value if isinstance(value, list) else []
                return any(_same(item, expected) for item in items)  # type: ignore[arg-type]
            raise AssertionError(f"unknown operator {op}")
        case AnyOf(conditions=items):
            return any(holds(item, view) for item in items)
        case AllOf(conditions=items):
            return all(holds(item, view) for item in items)
        case Not(condition=inner):
            return not holds(inner, view)
    raise AssertionError(f"not a condition: {condition!r}")


def _literal(value: Scalar | tuple[Scalar, ...]) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def describe(condition: Condition) -> str:
    """The condition as a data protection officer would read it, e.g.
    `event.data.release.type is one of ["possible", "planned"]`."""
    match condition:
        case Compare(path=path, op=op, value=value):
            text = {
                "equals": "is",
                "in": "is one of",
                "not": "is present and is not",
                "not_in": "is present and not one of",
                "at_least": "is at least",
                "at_most": "is at most",
                "contains": "contains",
            }
            if op == "present":
                return f"{path} {'has a value' if value else 'has no value'}"
            return f"{path} {text[op]} {_literal(value)}"
        case AnyOf(conditions=items):
            return "any of (" + "; ".join(describe(i) for i in items) + ")"
        case AllOf(conditions=items):
            return "all of (" + "; ".join(describe(i) for i in items) + ")"
        case Not(condition=inner):
            return f"not ({describe(inner)})"
    raise AssertionError(f"not a condition: {condition!r}")


@dataclass(frozen=True, slots=True)
class ConditionResult:
    """One top-level condition of a rule, evaluated."""

    condition: Condition
    holds: bool
    #: For a failed comparison: the paths it reads that had no value (the usual reason).
    missing: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return describe(self.condition)

    def reason(self) -> str:
        """Why it failed, without repeating the value (which may be personal data)."""
        if self.holds:
            return f"{self.text}: holds"
        if self.missing:
            return f"{self.text}: does not hold (no value at {', '.join(self.missing)})"
        return f"{self.text}: does not hold"


def evaluate_conditions(
    conditions: Sequence[Condition], view: Mapping[str, Any]
) -> list[ConditionResult]:
    """Each top-level condition with whether it holds and, if not, which paths had no value."""
    results = []
    for condition in conditions:
        ok = holds(condition, view)
        missing: tuple[str, ...] = ()
        if not ok:
            missing = tuple(
                sorted(
                    {str(p) for p, _ in paths_of(condition) if lookup(view, p) is MISSING}
                    - _present_false_paths(condition)
                )
            )
        results.append(ConditionResult(condition, ok, missing))
    return results


def _present_false_paths(condition: Condition) -> set[str]:
    # For `present: false` a missing value is what the rule asks for, not the reason it failed.
    if isinstance(condition, Compare):
        return {str(condition.path)} if condition.op == "present" else set()
    return set()
