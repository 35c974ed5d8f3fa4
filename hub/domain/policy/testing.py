"""A bundle's own test cases (`tests/*.yaml`): notifications in, expected disclosures and denials
out. Read and checked when the bundle loads; run by `run_bundle_tests` (`hub policy test`, CI).

The person's profile is folded by a function the caller passes in, so that this module does not
depend on how profiles are built, only on what they contain.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.domain.notifications import Notification
from hub.domain.policy.redaction import covers, overlaps
from hub.domain.policy.rules import Problems, YamlList, YamlMap, check_keys, items_with_lines
from hub.domain.schemas import SchemaRegistry
from hub.errors import InvalidNotification

if TYPE_CHECKING:
    from hub.domain.policy.engine import PolicyBundle

#: `fold(profile before, notification, position) -> profile after`: the profile projection.
Fold = Callable[[Mapping[str, Any] | None, Notification, int], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class GivenNotification:
    """An example notification (`events/examples/<type>.json`) with some paths changed."""

    example: str
    set: tuple[tuple[str, Any], ...]
    line: int


@dataclass(frozen=True, slots=True)
class ExpectedDisclosure:
    recipient: str
    fields: tuple[str, ...]  # at least these
    withheld: tuple[str, ...]  # none of these
    rules: tuple[str, ...]  # these among the rules that matched
    line: int


@dataclass(frozen=True, slots=True)
class TestCase:
    """One case: about the last notification in `given`."""

    __test__ = False  # not a pytest class

    name: str
    file: str
    line: int
    given: tuple[GivenNotification, ...]
    disclosed: tuple[ExpectedDisclosure, ...] = ()
    denied: tuple[tuple[str, int], ...] = ()
    not_candidates: tuple[tuple[str, int], ...] = ()


@dataclass
class TestCaseResult:
    __test__ = False

    name: str
    file: str
    line: int
    passed: bool
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TestCaseChecks:
    """What a test case may refer to, for checking it when the bundle loads."""

    event_types: Collection[str]
    #: None when the directory could not be read: its problems are reported already.
    recipients: Collection[str] | None
    rules: Collection[str]
    envelope_attributes: Collection[str]
    field_problem: Callable[[str, Sequence[str]], str | None]


def read_test_file(
    document: Any, file: str, problems: Problems, checks: TestCaseChecks
) -> list[TestCase]:
    """The test cases of one `tests/*.yaml`, every problem added to `problems`."""
    if not isinstance(document, YamlMap):
        problems.add(file, 1, "expected a mapping with `cases:`")
        return []
    check_keys(
        document,
        file,
        problems,
        allowed=("title", "description", "cases"),
        required=("cases",),
        what="a tests file",
    )
    cases_node = document.get("cases")
    if not isinstance(cases_node, YamlList):
        if "cases" in document:
            problems.add(file, document.line_of("cases"), "`cases` must be a list of cases")
        return []
    cases = []
    for node, line in items_with_lines(cases_node):
        case = _read_case(node, line, file, problems, checks)
        if case is not None:
            cases.append(case)
    return cases


def _read_case(
    node: Any, line: int, file: str, problems: Problems, checks: TestCaseChecks
) -> TestCase | None:
    if not isinstance(node, YamlMap):
        problems.add(file, line, "a case is a mapping with `name`, `given`, `expect`")
        return None
    before = len(problems.found)
    check_keys(
        node,
        file,
        problems,
        allowed=("name", "given", "expect"),
        required=("name", "given", "expect"),
        what="a case",
    )
    name = node.get("name")
    if "name" in node and (not isinstance(name, str) or not name.strip()):
        problems.add(file, node.line_of("name"), "`name` must be non-empty text")
    given = _read_given(node.get("given"), node.line_of("given"), file, problems, checks)
    last_type = given[-1].example if given else None
    expect = node.get("expect")
    disclosed: list[ExpectedDisclosure] = []
    denied: list[tuple[str, int]] = []
    not_candidates: list[tuple[str, int]] = []
    if isinstance(expect, YamlMap):
        check_keys(
            expect,
            file,
            problems,
            allowed=("disclosed", "denied", "not_candidates"),
            what="`expect`",
        )
        disclosed = _read_disclosed(expect, file, problems, checks, last_type)
        denied = _recipient_list(expect, "denied", file, problems, checks)
        not_candidates = _recipient_list(expect, "not_candidates", file, problems, checks)
    elif "expect" in node:
        problems.add(file, node.line_of("expect"), "`expect` must be a mapping")
    if len(problems.found) > before or not isinstance(name, str):
        return None
    return TestCase(
        name.strip(),
        file,
        node.line,
        tuple(given),
        tuple(disclosed),
        tuple(denied),
        tuple(not_candidates),
    )


def _read_given(
    node: Any, line: int, file: str, problems: Problems, checks: TestCaseChecks
) -> list[GivenNotification]:
    if not isinstance(node, YamlList) or not node:
        if node is not None:
            problems.add(file, line, "`given` must be a non-empty list of notifications")
        return []
    given = []
    for item, item_line in items_with_lines(node):
        if not isinstance(item, YamlMap):
            problems.add(file, item_line, "each notification is `example:` (and `set:`)")
            continue
        check_keys(
            item, file, problems, allowed=("example", "set"), required=("example",), what="`given`"
        )
        example = item.get("example")
        if "example" in item and example not in checks.event_types:
            known = ", ".join(sorted(checks.event_types))
            problems.add(
                file, item.line_of("example"), f"unknown event type `{example}`; known: {known}"
            )
            continue
        changes: list[tuple[str, Any]] = []
        changes_node = item.get("set", YamlMap())
        if not isinstance(changes_node, YamlMap):
            problems.add(file, item.line_of("set"), "`set` maps envelope paths to new values")
            continue
        for path, value in changes_node.items():
            root = path.split(".")[0]
            if root not in checks.envelope_attributes:
                problems.add(
                    file,
                    changes_node.line_of(path),
                    f"`{path}` is not an envelope path (data.…, identifiers.…, time, …)",
                )
            changes.append((path, _plain(value)))
        if isinstance(example, str):
            given.append(GivenNotification(example, tuple(changes), item.line))
    return given


def _read_disclosed(
    expect: YamlMap,
    file: str,
    problems: Problems,
    checks: TestCaseChecks,
    event_type: str | None,
) -> list[ExpectedDisclosure]:
    node = expect.get("disclosed", YamlList())
    if not isinstance(node, YamlList):
        problems.add(file, expect.line_of("disclosed"), "`disclosed` must be a list")
        return []
    found = []
    for item, line in items_with_lines(node):
        if not isinstance(item, YamlMap):
            problems.add(file, line, "each disclosure is a mapping with `recipient`")
            continue
        check_keys(
            item,
            file,
            problems,
            allowed=("recipient", "fields", "withheld", "rules"),
            required=("recipient",),
            what="a disclosure",
        )
        recipient = item.get("recipient")
        if "recipient" in item and not _known_recipient(recipient, checks):
            problems.add(file, item.line_of("recipient"), f"`{recipient}` is not in the directory")
        lists: dict[str, tuple[str, ...]] = {}
        for key in ("fields", "withheld", "rules"):
            values = item.get(key, YamlList())
            if not isinstance(values, YamlList) or not all(isinstance(v, str) for v in values):
                problems.add(file, item.line_of(key), f"`{key}` must be a list of names")
                values = YamlList()
            for value, value_line in items_with_lines(values):
                if key == "rules" and value not in checks.rules:
                    problems.add(file, value_line, f"no rule has the id `{value}`")
                elif key != "rules" and event_type is not None:
                    problem = checks.field_problem(value, (event_type,))
                    if problem is not None:
                        problems.add(file, value_line, problem)
            lists[key] = tuple(values)
        if isinstance(recipient, str):
            found.append(
                ExpectedDisclosure(
                    recipient, lists["fields"], lists["withheld"], lists["rules"], item.line
                )
            )
    return found


def _recipient_list(
    expect: YamlMap, key: str, file: str, problems: Problems, checks: TestCaseChecks
) -> list[tuple[str, int]]:
    node = expect.get(key, YamlList())
    if not isinstance(node, YamlList):
        problems.add(file, expect.line_of(key), f"`{key}` must be a list of recipient ids")
        return []
    found = []
    for value, line in items_with_lines(node):
        if not _known_recipient(value, checks):
            problems.add(file, line, f"`{value}` is not in the directory")
        else:
            found.append((value, line))
    return found


def _known_recipient(value: object, checks: TestCaseChecks) -> bool:
    if not isinstance(value, str):
        return False
    return checks.recipients is None or value in checks.recipients


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def apply_changes(document: dict[str, Any], changes: Sequence[tuple[str, Any]]) -> None:
    """Set each dotted path in `document` (a list index is a number), creating objects on the
    way."""
    for path, value in changes:
        node: Any = document
        segments = path.split(".")
        for segment in segments[:-1]:
            node = node[int(segment)] if isinstance(node, list) else node.setdefault(segment, {})
        last = segments[-1]
        if isinstance(node, list):
            node[int(last)] = copy.deepcopy(value)
        else:
            node[last] = copy.deepcopy(value)


def run_bundle_tests(
    bundle: PolicyBundle,
    schemas: SchemaRegistry,
    examples_dir: Path,
    fold: Fold,
) -> list[TestCaseResult]:
    """Run every test case of `bundle`: build its notifications from the examples, fold the
    profile through them, evaluate the last one and compare with what the case expects."""
    examples: dict[str, dict[str, Any]] = {}
    results = []
    for case in bundle.test_cases:
        failures: list[str] = []
        profile: Mapping[str, Any] | None = None
        last: Notification | None = None
        for position, given in enumerate(case.given, start=1):
            where = f"{case.file}:{given.line}"
            if given.example not in examples:
                path = examples_dir / f"{given.example}.json"
                try:
                    examples[given.example] = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError) as error:
                    failures.append(f"{where}: cannot read the example {path}: {error}")
                    break
            raw = copy.deepcopy(examples[given.example])
            try:
                apply_changes(raw, given.set)
                last = schemas.validate(raw)
            except (LookupError, ValueError, TypeError) as error:
                failures.append(f"{where}: cannot apply `set`: {error}")
                break
            except InvalidNotification as error:
                detail = "; ".join(f"{p.pointer} {p.message}" for p in error.problems)
                failures.append(f"{where}: the notification is not valid: {detail}")
                break
            profile = fold(profile, last, position)
        if last is not None and not failures:
            failures = _check(bundle, case, last, profile or {})
        results.append(TestCaseResult(case.name, case.file, case.line, not failures, failures))
    return results


def _check(
    bundle: PolicyBundle, case: TestCase, notification: Notification, profile: Mapping[str, Any]
) -> list[str]:
    evaluation = bundle.evaluate(notification, profile)
    decisions = {d.recipient_id: d for d in evaluation.decisions}
    failures = []
    for expected in case.disclosed:
        where = f"{case.file}:{expected.line}"
        decision = decisions.get(expected.recipient)
        if decision is None:
            failures.append(f"{where}: {expected.recipient} is not a candidate: no rule names it")
            continue
        if not decision.permitted:
            reasons = "; ".join(decision.reasons)
            failures.append(f"{where}: {expected.recipient} is denied: {reasons}")
            continue
        for wanted in expected.fields:
            if not any(covers(granted, wanted) for granted in decision.fields):
                failures.append(
                    f"{where}: {expected.recipient} does not receive {wanted} "
                    f"(granted: {', '.join(decision.fields)})"
                )
        for unwanted in expected.withheld:
            leaked = [g for g in decision.fields if overlaps(g, unwanted)]
            if leaked:
                failures.append(
                    f"{where}: {expected.recipient} receives {unwanted} "
                    f"(granted as {', '.join(leaked)} by {', '.join(decision.rules)})"
                )
        for rule in expected.rules:
            if rule not in decision.rules:
                failures.append(
                    f"{where}: rule {rule} does not grant {expected.recipient} "
                    f"(matched: {', '.join(decision.rules)})"
                )
    for recipient, line in case.denied:
        decision = decisions.get(recipient)
        if decision is None:
            failures.append(f"{case.file}:{line}: {recipient} is not a candidate at all")
        elif decision.permitted:
            failures.append(
                f"{case.file}:{line}: {recipient} is disclosed {', '.join(decision.fields)} "
                f"by {', '.join(decision.rules)}"
            )
    for recipient, line in case.not_candidates:
        decision = decisions.get(recipient)
        if decision is not None:
            failures.append(
                f"{case.file}:{line}: {recipient} is a candidate "
                f"({'disclosed' if decision.permitted else 'denied'}; "
                f"rules: {', '.join(decision.rules)})"
            )
    return failures
