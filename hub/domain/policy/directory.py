"""The agency directory (`directory.yaml`): the council areas and every recipient organisation,
through which rules find their recipients without ever naming an organisation."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

from hub.domain.policy.rules import (
    UNREADABLE,
    Problems,
    YamlList,
    YamlMap,
    check_keys,
    items_with_lines,
    load_yaml,
)
from hub.domain.policy.validity import ALWAYS, Validity, read_validity
from hub.errors import PolicyBundleInvalid

#: The roles a recipient may have (policies/README.md, "directory.yaml").
ROLES: Final = (
    "social-work",
    "child-protection",
    "housing",
    "police-division",
    "police-national",
    "establishment",
    "prison-service",
    "health-board",
    "mappa-coordinator",
    "parole-board",
    "licensing-authority",
    "court-service",
    "special-health-board",
    "risk-management-authority",
    "registered-social-landlord",
    "electronic-monitoring",
    "children-reporter",
    "social-security",
)

#: Roles of which at most one recipient serves a council area on any day: a notification's area
#: names one MAPPA coordinator, one police division, one territorial health board.
ONE_PER_AREA: Final = frozenset({"mappa-coordinator", "police-division", "health-board"})

_GSS = re.compile(r"S12[0-9]{6}")
_RECIPIENT_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")


@dataclass(frozen=True, slots=True)
class Area:
    """A council area, by its current GSS code, with the codes it was known by before."""

    gss: str
    name: str
    former_gss: frozenset[str] = frozenset()
    validity: Validity = ALWAYS


@dataclass(frozen=True, slots=True)
class Recipient:
    """An organisation the hub can disclose to; agency clients are bound to one by `id`."""

    id: str
    name: str
    role: str
    areas: frozenset[str]
    validity: Validity = ALWAYS


class Directory:
    """Recipients by id, by role, and by the council area they serve."""

    def __init__(self, areas: Iterable[Area], recipients: Iterable[Recipient]) -> None:
        self.areas: Mapping[str, Area] = {a.gss: a for a in sorted(areas, key=lambda a: a.gss)}
        self.recipients: Mapping[str, Recipient] = {
            r.id: r for r in sorted(recipients, key=lambda r: r.id)
        }
        self._canonical: dict[str, str] = {}
        for area in self.areas.values():
            self._canonical[area.gss] = area.gss
            for former in area.former_gss:
                self._canonical[former] = area.gss
        self._by_role: dict[str, list[Recipient]] = {}
        self._serving: dict[tuple[str, str], list[Recipient]] = {}
        for recipient in self.recipients.values():
            self._by_role.setdefault(recipient.role, []).append(recipient)
            for gss in sorted(recipient.areas):
                self._serving.setdefault((recipient.role, gss), []).append(recipient)

    def get(self, recipient_id: str, *, on: date | None = None) -> Recipient | None:
        """The recipient `recipient_id`; with `on`, only if it is in force that day."""
        recipient = self.recipients.get(recipient_id)
        if recipient is None or (on is not None and not recipient.validity.in_force(on)):
            return None
        return recipient

    def by_role(self, role: str, *, on: date | None = None) -> list[Recipient]:
        """Every recipient of `role` (with `on`, in force that day), sorted by id."""
        return [r for r in self._by_role.get(role, ()) if on is None or r.validity.in_force(on)]

    def canonical_area(self, gss: str) -> str | None:
        """The current GSS code of the area `gss` names (itself, or a former code); None if no
        area in the directory has that code."""
        return self._canonical.get(gss)

    def serving(self, role: str, area_gss: str, *, on: date | None = None) -> list[Recipient]:
        """The recipients of `role` that serve the area `area_gss` (a current or former code),
        sorted by id. With `on`, only if the area and the recipient are both in force that day:
        a notification is resolved against the directory as it stood at the notification's time.
        """
        canonical = self.canonical_area(area_gss)
        if canonical is None:
            return []
        if on is not None and not self.areas[canonical].validity.in_force(on):
            return []
        return [
            r
            for r in self._serving.get((role, canonical), ())
            if on is None or r.validity.in_force(on)
        ]

    def codes_of(self, recipient: Recipient) -> frozenset[str]:
        """Every GSS code, current and former, of the areas `recipient` serves."""
        codes = set(recipient.areas)
        for gss in recipient.areas:
            area = self.areas.get(gss)
            if area is not None:
                codes.update(area.former_gss)
        return frozenset(codes)


#: The directory's file in a policy bundle.
DIRECTORY_FILE: Final = "directory.yaml"


def load_directory(bundle: Path) -> Directory:
    """The directory of the bundle at `bundle` on its own, for what needs no more of the bundle
    (the administration of agency clients): read and checked as `PolicyBundle.load` reads it,
    less the checks against the event schemas and the rules (the hub itself loads the whole
    bundle, and refuses to start on one that is not valid).

    Raises PolicyBundleInvalid listing every problem as `file:line: message`."""
    file = f"{str(bundle).rstrip('/')}/{DIRECTORY_FILE}"
    problems = Problems()
    try:
        text = (bundle / DIRECTORY_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyBundleInvalid(
            f"cannot read the agency directory {file}: {error}", [f"{file}:1: {error}"]
        ) from error
    document = load_yaml(text, file, problems)
    directory = read_directory(document, file, problems) if document is not UNREADABLE else None
    if problems or directory is None:
        lines = problems.lines()
        raise PolicyBundleInvalid(
            f"the agency directory {file} is not valid:\n  " + "\n  ".join(lines), lines
        )
    return directory


def read_directory(
    document: Any, file: str, problems: Problems, council_areas: frozenset[str] = frozenset()
) -> Directory:
    """Read `directory.yaml`, adding every problem to `problems`.

    `council_areas` (from the event schemas, when they list them) are the codes a notification
    can carry; an area whose current code is not among them could never be chosen by a rule."""
    if not isinstance(document, YamlMap):
        problems.add(file, 1, "expected a mapping with `areas:` and `recipients:`")
        return Directory((), ())
    check_keys(
        document,
        file,
        problems,
        allowed=("areas", "recipients"),
        required=("areas", "recipients"),
        what="the directory",
    )
    areas = _read_areas(document.get("areas"), document.line_of("areas"), file, problems)
    known = {a.gss: a for a in areas}
    former = {code: a for a in areas for code in a.former_gss}
    if council_areas:
        for area in areas:
            if area.gss not in council_areas:
                problems.add(
                    file,
                    _line_of_area(document, area.gss),
                    f"{area.gss} ({area.name}) is not a current council area code in the "
                    "event schemas",
                )
    recipients = _read_recipients(
        document.get("recipients"), document.line_of("recipients"), file, problems, known, former
    )
    return Directory(areas, recipients)


def _line_of_area(document: YamlMap, gss: str) -> int:
    for item, _ in items_with_lines(document.get("areas") or YamlList()):
        if isinstance(item, YamlMap) and item.get("gss") == gss:
            return item.line_of("gss")
    return document.line


def _read_areas(node: Any, line: int, file: str, problems: Problems) -> list[Area]:
    if not isinstance(node, YamlList):
        if node is not None:
            problems.add(file, line, "`areas` must be a list of council areas")
        return []
    areas: list[Area] = []
    seen: dict[str, int] = {}
    for item, item_line in items_with_lines(node):
        if not isinstance(item, YamlMap):
            problems.add(file, item_line, "an area is a mapping with `gss`, `name`, `former_gss`")
            continue
        check_keys(
            item,
            file,
            problems,
            allowed=("gss", "name", "former_gss", "valid_from", "valid_to"),
            required=("gss", "name"),
            what="an area",
        )
        validity = read_validity(item, file, problems)
        gss, name = item.get("gss"), item.get("name")
        codes: list[tuple[Any, int]] = [(gss, item.line_of("gss"))]
        former_node = item.get("former_gss", YamlList())
        if isinstance(former_node, YamlList):
            codes.extend(items_with_lines(former_node))
        else:
            problems.add(file, item.line_of("former_gss"), "`former_gss` must be a list of codes")
        if "name" in item and (not isinstance(name, str) or not name.strip()):
            problems.add(file, item.line_of("name"), "`name` must be non-empty text")
        valid: list[str] = []
        for code, code_line in codes:
            if "gss" not in item and code is None:
                continue
            if not isinstance(code, str) or not _GSS.fullmatch(code):
                problems.add(file, code_line, f"`{code}` is not a council area GSS code (S12…)")
            elif code in seen:
                problems.add(file, code_line, f"{code} appears twice (first on line {seen[code]})")
            else:
                seen[code] = code_line
                valid.append(code)
        # Kept despite problems with its other codes, so recipients of the area are still checked.
        if isinstance(gss, str) and gss in valid and isinstance(name, str) and name.strip():
            former_codes = frozenset(c for c in valid if c != gss)
            areas.append(Area(gss, name.strip(), former_codes, validity or ALWAYS))
    return areas


def _read_recipients(
    node: Any,
    line: int,
    file: str,
    problems: Problems,
    areas: Mapping[str, Area],
    former: Mapping[str, Area],
) -> list[Recipient]:
    if not isinstance(node, YamlList):
        if node is not None:
            problems.add(file, line, "`recipients` must be a list of recipients")
        return []
    recipients: list[Recipient] = []
    lines: dict[str, int] = {}
    seen: dict[str, int] = {}
    for item, item_line in items_with_lines(node):
        if not isinstance(item, YamlMap):
            problems.add(file, item_line, "a recipient is a mapping with `id`, `name`, `role`")
            continue
        check_keys(
            item,
            file,
            problems,
            allowed=("id", "name", "role", "areas", "valid_from", "valid_to"),
            required=("id", "name", "role"),
            what="a recipient",
        )
        before = len(problems.found)
        validity = read_validity(item, file, problems) or ALWAYS
        recipient_id, name, role = item.get("id"), item.get("name"), item.get("role")
        if "id" in item:
            if not isinstance(recipient_id, str) or not _RECIPIENT_ID.fullmatch(recipient_id):
                problems.add(
                    file, item.line_of("id"), "`id` must be lower-case letters, digits, hyphens"
                )
            elif recipient_id in seen:
                problems.add(
                    file,
                    item.line_of("id"),
                    f"recipient id `{recipient_id}` appears twice (first on line "
                    f"{seen[recipient_id]})",
                )
            else:
                seen[recipient_id] = item.line_of("id")
        if "name" in item and (not isinstance(name, str) or not name.strip()):
            problems.add(file, item.line_of("name"), "`name` must be non-empty text")
        if "role" in item and role not in ROLES:
            problems.add(
                file, item.line_of("role"), f"unknown role `{role}`; roles: {', '.join(ROLES)}"
            )
        served: set[str] = set()
        areas_node = item.get("areas", YamlList())
        if not isinstance(areas_node, YamlList):
            problems.add(file, item.line_of("areas"), "`areas` must be a list of GSS codes")
            areas_node = YamlList()
        for code, code_line in items_with_lines(areas_node):
            if isinstance(code, str) and code in former:
                problems.add(
                    file,
                    code_line,
                    f"{code} is a former code of {former[code].name}: use {former[code].gss}",
                )
            elif not isinstance(code, str) or code not in areas:
                problems.add(file, code_line, f"unknown GSS code `{code}`: not an area above")
            elif not validity.overlaps(areas[code].validity):
                problems.add(
                    file,
                    code_line,
                    f"{code} ({areas[code].name}) is in force {areas[code].validity.describe()}: "
                    f"never while this recipient is ({validity.describe()})",
                )
            else:
                served.add(code)
        if len(problems.found) == before and all(k in item for k in ("id", "name", "role")):
            assert isinstance(recipient_id, str)
            assert isinstance(name, str)
            assert isinstance(role, str)
            recipients.append(
                Recipient(recipient_id, name.strip(), role, frozenset(served), validity)
            )
            lines[recipient_id] = item.line_of("id")
    _check_one_per_area(recipients, lines, areas, file, problems)
    return recipients


def _check_one_per_area(
    recipients: list[Recipient],
    lines: Mapping[str, int],
    areas: Mapping[str, Area],
    file: str,
    problems: Problems,
) -> None:
    """Two recipients of a role in ONE_PER_AREA may serve one area only in periods that do not
    overlap (a MAPPA region regrouped, a prison replaced): otherwise a notification's area would
    name both."""
    earlier: dict[tuple[str, str], list[Recipient]] = {}
    for recipient in recipients:
        if recipient.role not in ONE_PER_AREA:
            continue
        for gss in sorted(recipient.areas):
            for other in earlier.get((recipient.role, gss), []):
                if recipient.validity.overlaps(other.validity):
                    problems.add(
                        file,
                        lines[recipient.id],
                        f"`{recipient.id}` and `{other.id}` (line {lines[other.id]}) both serve "
                        f"{gss} ({areas[gss].name}) as {recipient.role} on the same days: "
                        f"`{recipient.id}` is in force {recipient.validity.describe()}, "
                        f"`{other.id}` {other.validity.describe()}; give them `valid_from` / "
                        "`valid_to` that do not overlap",
                    )
            earlier.setdefault((recipient.role, gss), []).append(recipient)
