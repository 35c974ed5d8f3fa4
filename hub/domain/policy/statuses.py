"""`statuses.yaml` of a bundle: for each status kind the profile keeps, its title and the
source namespaces that may set it, strongest first (or `any`: every source, most recent wins).
Read into the `Authorities` the profile fold applies (policies/README.md "statuses.yaml")."""

from __future__ import annotations

from typing import Any, Final

from hub.domain.person.authority import ANY, NAMESPACES, Authorities
from hub.domain.person.statuses import STATUS_KINDS
from hub.domain.policy.rules import Problems, YamlList, YamlMap, check_keys, text_value

STATUSES_FILE: Final = "statuses.yaml"


def read_statuses(document: Any, file: str, problems: Problems) -> Authorities:
    """The authorities of every status kind; every problem added to `problems` as file:line."""
    if not isinstance(document, YamlMap):
        problems.add(file, 1, "expected a mapping with `statuses:`")
        return Authorities({})
    check_keys(document, file, problems, allowed=("statuses",), required=("statuses",), what=file)
    kinds = document.get("statuses")
    if not isinstance(kinds, YamlMap):
        if "statuses" in document:
            problems.add(file, document.line_of("statuses"), "`statuses:` maps status kinds")
        return Authorities({})
    found: dict[str, tuple[str, ...] | None] = {}
    for kind, entry in kinds.items():
        line = kinds.line_of(kind)
        if kind not in STATUS_KINDS:
            problems.add(
                file, line, f"unknown status kind `{kind}`; kinds: {', '.join(STATUS_KINDS)}"
            )
            continue
        if not isinstance(entry, YamlMap):
            problems.add(file, line, f"status `{kind}`: expected `title:` and `authorities:`")
            continue
        what = f"status `{kind}`"
        check_keys(
            entry,
            file,
            problems,
            allowed=("title", "authorities"),
            required=("title", "authorities"),
            what=what,
        )
        text_value(entry, "title", file, problems, what)
        if "authorities" in entry:
            valid, ranks = _authorities(entry, file, problems, what)
            if valid:
                found[kind] = ranks
    for kind in STATUS_KINDS:
        if kind not in kinds:
            problems.add(
                file,
                document.line_of("statuses"),
                f"status `{kind}` is not declared (every status kind needs its authorities)",
            )
    return Authorities(found)


def _authorities(
    entry: YamlMap, file: str, problems: Problems, what: str
) -> tuple[bool, tuple[str, ...] | None]:
    """Whether `authorities:` is valid, and the namespaces it lists (None for `any`)."""
    value, line = entry["authorities"], entry.line_of("authorities")
    if value == ANY:
        return True, None
    if not isinstance(value, YamlList) or not value:
        problems.add(file, line, f"`authorities` of {what}: a list of source namespaces, or `any`")
        return False, None
    ranks: list[str] = []
    for index, namespace in enumerate(value):
        at = value.item_lines[index] if index < len(value.item_lines) else line
        if namespace not in NAMESPACES:
            problems.add(
                file,
                at,
                f"`authorities` of {what}: unknown source namespace {namespace!r}; known: "
                f"{', '.join(NAMESPACES)}",
            )
        elif namespace in ranks:
            problems.add(file, at, f"`authorities` of {what}: {namespace} is listed twice")
        else:
            ranks.append(namespace)
    return len(ranks) == len(value), tuple(ranks)
