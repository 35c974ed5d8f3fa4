"""`legal.yaml` of a bundle: the register a rule's legal basis cites by id (policies/README.md,
"Legal basis") — the gateways (statute and provision permitting a disclosure, with where to
check them and what a rule citing them must require), the roles that act as competent
authorities for a law-enforcement purpose (DPA 2018 s30, Schedule 7), and the documents behind
the sharing (data-sharing agreements, DPIAs, appropriate policy documents), each marked
`confirm: true` where a deployment must supply or confirm the real one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from hub.domain.policy.bases import LegalBasis
from hub.domain.policy.conditions import Condition, paths_of
from hub.domain.policy.directory import ROLES
from hub.domain.policy.rules import (
    Problems,
    RuleReader,
    SchemaIndex,
    YamlList,
    YamlMap,
    check_keys,
    items_with_lines,
    text_value,
)

LEGAL_FILE: Final = "legal.yaml"

ReferenceKind = Literal["data-sharing-agreement", "dpia", "appropriate-policy-document"]
REFERENCE_KINDS: Final[tuple[ReferenceKind, ...]] = (
    "data-sharing-agreement",
    "dpia",
    "appropriate-policy-document",
)
_ID: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")


@dataclass(frozen=True, slots=True)
class Gateway:
    """A statutory provision that permits a kind of disclosure."""

    id: str
    statute: str
    provision: str
    permits: str
    #: Where a reader checks the provision (legislation.gov.uk, gov.scot).
    source: str
    #: Conditions every rule citing this gateway must carry in its `when` (e.g. MOSA s10: the
    #: person is within MAPPA), as profile conditions.
    requires: tuple[Condition, ...]
    #: True where the provision's application here is not confirmed: a deployment confirms it.
    confirm: bool
    line: int

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "statute": self.statute,
            "provision": self.provision,
            "permits": self.permits,
            "source": self.source,
            "confirm": self.confirm,
        }


@dataclass(frozen=True, slots=True)
class CompetentAuthority:
    """A role whose recipients act as competent authorities for a law-enforcement purpose."""

    role: str
    #: Why: the Schedule 7 entry, or the statutory functions exercised for that purpose (s30).
    basis: str
    line: int


@dataclass(frozen=True, slots=True)
class Reference:
    """A document the sharing rests on: a data-sharing agreement, a DPIA, or the appropriate
    policy document sensitive processing needs (DPA 2018 s42; Schedule 1 Part 4)."""

    id: str
    kind: ReferenceKind
    title: str
    #: True: a placeholder; the deployment must supply and confirm the real document.
    confirm: bool
    line: int

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "title": self.title, "confirm": self.confirm}


@dataclass(frozen=True, slots=True)
class LegalRegister:
    """What `legal.yaml` declares, by id (and competent authorities by role)."""

    file: str
    gateways: Mapping[str, Gateway]
    competent_authorities: Mapping[str, CompetentAuthority]
    references: Mapping[str, Reference]


EMPTY_REGISTER: Final = LegalRegister("", {}, {}, {})


def read_legal(document: Any, file: str, problems: Problems, schemas: SchemaIndex) -> LegalRegister:
    """The register of `legal.yaml`; every problem added to `problems` as file:line."""
    if not isinstance(document, YamlMap):
        problems.add(
            file, 1, "expected a mapping with `gateways:`, `competent_authorities:`, `references:`"
        )
        return LegalRegister(file, {}, {}, {})
    check_keys(
        document,
        file,
        problems,
        allowed=("gateways", "competent_authorities", "references"),
        required=("gateways", "competent_authorities", "references"),
        what=file,
    )
    return LegalRegister(
        file=file,
        gateways=_gateways(document, file, problems, schemas),
        competent_authorities=_competent_authorities(document, file, problems),
        references=_references(document, file, problems),
    )


def _items(document: YamlMap, key: str, file: str, problems: Problems) -> list[tuple[Any, int]]:
    value = document.get(key)
    if key in document and not isinstance(value, YamlList):
        problems.add(file, document.line_of(key), f"`{key}` must be a list")
        return []
    found = []
    for item, line in items_with_lines(value or YamlList()):
        if isinstance(item, YamlMap):
            found.append((item, line))
        else:
            problems.add(file, line, f"each item of `{key}` is a mapping")
    return found


def _id(
    item: YamlMap, file: str, problems: Problems, seen: dict[str, int], what: str
) -> str | None:
    value = item.get("id")
    if not isinstance(value, str) or not _ID.fullmatch(value):
        problems.add(
            file,
            item.line_of("id"),
            f"{what} needs an `id` of lower-case letters, digits and hyphens",
        )
        return None
    if value in seen:
        problems.add(
            file, item.line_of("id"), f"{what} `{value}` is already declared on line {seen[value]}"
        )
        return None
    seen[value] = item.line_of("id")
    return value


def _confirm(item: YamlMap, file: str, problems: Problems) -> bool:
    value = item.get("confirm", False)
    if type(value) is not bool:
        problems.add(file, item.line_of("confirm"), "`confirm` must be true or false")
        return False
    return value


def _gateways(
    document: YamlMap, file: str, problems: Problems, schemas: SchemaIndex
) -> dict[str, Gateway]:
    found: dict[str, Gateway] = {}
    seen: dict[str, int] = {}
    conditions = RuleReader(schemas, file, problems)
    for item, _ in _items(document, "gateways", file, problems):
        gateway_id = _id(item, file, problems, seen, "a gateway")
        what = f"gateway {gateway_id}" if gateway_id else "a gateway"
        check_keys(
            item,
            file,
            problems,
            allowed=("id", "statute", "provision", "permits", "source", "requires", "confirm"),
            required=("statute", "provision", "permits", "source"),
            what=what,
        )
        texts = {
            key: text_value(item, key, file, problems, what)
            for key in ("statute", "provision", "permits", "source")
        }
        requires: list[Condition] = []
        if "requires" in item:
            value = item["requires"]
            if not isinstance(value, YamlList) or not value:
                problems.add(file, item.line_of("requires"), "`requires` is a list of conditions")
            else:
                for node, line in items_with_lines(value):
                    condition = conditions.condition(node, line, ())
                    if condition is None:
                        continue
                    if any(path.root != "profile" for path, _ in paths_of(condition)):
                        problems.add(
                            file,
                            node.line if isinstance(node, YamlMap) else line,
                            "a gateway `requires` conditions on the person's profile "
                            "(profile.<attribute>), which every event type has",
                        )
                        continue
                    requires.append(condition)
        confirm = _confirm(item, file, problems)
        if gateway_id is None or any(v is None for v in texts.values()):
            continue
        found[gateway_id] = Gateway(
            id=gateway_id,
            statute=texts["statute"] or "",
            provision=texts["provision"] or "",
            permits=texts["permits"] or "",
            source=texts["source"] or "",
            requires=tuple(requires),
            confirm=confirm,
            line=item.line,
        )
    return found


def _competent_authorities(
    document: YamlMap, file: str, problems: Problems
) -> dict[str, CompetentAuthority]:
    found: dict[str, CompetentAuthority] = {}
    for item, _ in _items(document, "competent_authorities", file, problems):
        check_keys(
            item,
            file,
            problems,
            allowed=("role", "basis"),
            required=("role", "basis"),
            what="a competent authority",
        )
        role = item.get("role")
        basis = text_value(item, "basis", file, problems, "a competent authority")
        if not isinstance(role, str) or role not in ROLES:
            problems.add(
                file, item.line_of("role"), f"unknown role `{role}`; roles: {', '.join(ROLES)}"
            )
            continue
        if role in found:
            problems.add(
                file,
                item.line_of("role"),
                f"`{role}` is already a competent authority on line {found[role].line}",
            )
            continue
        if basis is not None:
            found[role] = CompetentAuthority(role, basis, item.line_of("role"))
    return found


def _references(document: YamlMap, file: str, problems: Problems) -> dict[str, Reference]:
    found: dict[str, Reference] = {}
    seen: dict[str, int] = {}
    for item, _ in _items(document, "references", file, problems):
        reference_id = _id(item, file, problems, seen, "a reference")
        what = f"reference {reference_id}" if reference_id else "a reference"
        check_keys(
            item,
            file,
            problems,
            allowed=("id", "kind", "title", "confirm"),
            required=("kind", "title"),
            what=what,
        )
        kind = item.get("kind")
        if "kind" in item and kind not in REFERENCE_KINDS:
            problems.add(
                file,
                item.line_of("kind"),
                f"`kind` of {what} is one of {', '.join(REFERENCE_KINDS)}",
            )
            continue
        title = text_value(item, "title", file, problems, what)
        confirm = _confirm(item, file, problems)
        if reference_id is None or title is None or kind not in REFERENCE_KINDS:
            continue
        found[reference_id] = Reference(reference_id, kind, title, confirm, item.line)
    return found


def resolve_basis(basis: LegalBasis | None, register: LegalRegister) -> dict[str, Any]:
    """A rule's basis for people to read (`POST /v1/policy/explain`): as written, with each
    gateway and document resolved to what `legal.yaml` says of it, and the citation recorded."""
    if basis is None:
        return {}
    document = basis.as_json()
    document["gateway"] = [
        register.gateways[g].as_json() if g in register.gateways else {"id": g}
        for g in basis.gateway
    ]
    if basis.s36_4:
        document["s36_4"] = [
            register.gateways[g].as_json() if g in register.gateways else {"id": g}
            for g in basis.s36_4
        ]
    for key in ("agreement", "dpia", "policy_document"):
        reference_id = getattr(basis, key)
        if reference_id is not None:
            reference = register.references.get(reference_id)
            document[key] = reference.as_json() if reference else {"id": reference_id}
    authority = register.competent_authorities.get(basis.controller)
    document["controller_is_competent_authority"] = authority is not None
    return document
