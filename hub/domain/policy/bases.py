"""A rule's legal basis (policies/README.md, "Legal basis"): who discloses, under which gateway,
in which data-protection regime, on which lawful basis and conditions, and on which documents.

Read here from a rule's `legal_basis:` with every problem of its own shape reported at
`file:line`; what needs the rest of the bundle (the ids in `legal.yaml`, the fields granted, the
recipients) is checked by `basis_checks`. The basis rides in the rule's Cedar policy as
canonical JSON (`to_json`/`from_json`), and every disclosure and denial records its `citation`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from hub.domain.policy.rules import (
    Problems,
    YamlList,
    YamlMap,
    check_keys,
    items_with_lines,
)

Regime = Literal["dpa2018-part3", "uk-gdpr"]
REGIMES: Final[tuple[Regime, ...]] = ("dpa2018-part3", "uk-gdpr")

#: The lawful bases each regime allows a rule to cite.
LAWFUL_BASES: Final[Mapping[str, tuple[str, ...]]] = {
    # DPA 2018 s35(2): (a) the data subject's consent, (b) necessary for a task carried out for
    # a law-enforcement purpose by a competent authority.
    "dpa2018-part3": ("s35(2)(a)", "s35(2)(b)"),
    # UK GDPR Art 6(1): (c) legal obligation, (e) public task (public bodies' usual bases).
    "uk-gdpr": ("art6(1)(c)", "art6(1)(e)"),
}
#: DPA 2018 s35(4) consent, s35(5) strictly necessary with a Schedule 8 condition.
SENSITIVE_CONDITIONS: Final = ("s35(4)", "s35(5)")
#: DPA 2018 Schedule 8, paragraphs 1-9.
SCHEDULE8: Final = tuple(f"para-{n}" for n in range(1, 10))
#: UK GDPR Art 9(2)(a)-(j).
ARTICLE9: Final = tuple(f"9(2)({letter})" for letter in "abcdefghij")
#: Art 9(2) conditions that need a DPA 2018 Schedule 1 condition (s10(2)-(3)), and which Part.
_ARTICLE9_SCHEDULE1: Final[Mapping[str, str]] = {
    "9(2)(b)": "part1",
    "9(2)(g)": "part2",
    "9(2)(h)": "part1",
    "9(2)(i)": "part1",
    "9(2)(j)": "part1",
}
#: UK GDPR Art 10: under official authority, or with a Schedule 1 condition (DPA 2018 s10(5)).
ARTICLE10: Final = ("official-authority", "schedule1")
#: DPA 2018 Schedule 1 paragraphs: Part 1 paras 1-4, Part 2 paras 5-28, Part 3 paras 29-37.
_SCHEDULE1_PARTS: Final[Mapping[str, range]] = {
    "part1": range(1, 5),
    "part2": range(5, 29),
    "part3": range(29, 38),
}
_SCHEDULE1: Final = re.compile(r"(part[123])-para-([0-9]{1,2})")
_ID: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")

BASIS_KEYS: Final = (
    "controller",
    "gateway",
    "regime",
    "lawful_basis",
    "sensitive",
    "special",
    "criminal",
    "s36_4",
    "agreement",
    "dpia",
    "policy_document",
)


@dataclass(frozen=True, slots=True)
class SensitiveProcessing:
    """DPA 2018 Part 3 sensitive processing: s35(4) consent, or s35(5) with Schedule 8."""

    condition: str
    schedule8: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SpecialCategory:
    """UK GDPR Art 9 condition, with its DPA 2018 Schedule 1 condition where one is needed."""

    art9: str
    schedule1: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CriminalOffenceData:
    """UK GDPR Art 10: official authority, or a DPA 2018 Schedule 1 condition."""

    art10: str
    schedule1: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LegalBasis:
    """The legal basis of one rule, as written (ids resolve through `legal.yaml`)."""

    controller: str
    gateway: tuple[str, ...]
    regime: Regime
    lawful_basis: str | None
    sensitive: SensitiveProcessing | None = None
    special: SpecialCategory | None = None
    criminal: CriminalOffenceData | None = None
    s36_4: tuple[str, ...] = ()
    agreement: str | None = None
    dpia: str | None = None
    policy_document: str | None = None
    #: Where each key was written, for the checks that need the rest of the bundle.
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False)
    line: int = field(default=0, compare=False)

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)

    @property
    def justifies_special_data(self) -> bool:
        """Whether the basis records a justification for special-category data that does not
        rest on the person's consent: s35(5) (strictly necessary, with Schedule 8) or an Art 9
        condition other than explicit consent (9(2)(a)). A basis resting on consent (s35(4))
        justifies nothing once consent is not recorded: the engine's guard then withholds."""
        if self.sensitive is not None and self.sensitive.condition == "s35(5)":
            return True
        return self.special is not None and self.special.art9 != "9(2)(a)"

    def as_json(self) -> dict[str, Any]:
        """The basis as JSON values, without the keys it does not have."""
        document: dict[str, Any] = {
            "controller": self.controller,
            "gateway": list(self.gateway),
            "regime": self.regime,
            "lawful_basis": self.lawful_basis,
        }
        if self.sensitive is not None:
            document["sensitive"] = {"condition": self.sensitive.condition}
            if self.sensitive.schedule8:
                document["sensitive"]["schedule8"] = list(self.sensitive.schedule8)
        if self.special is not None:
            document["special"] = {"art9": self.special.art9}
            if self.special.schedule1:
                document["special"]["schedule1"] = list(self.special.schedule1)
        if self.criminal is not None:
            document["criminal"] = {"art10": self.criminal.art10}
            if self.criminal.schedule1:
                document["criminal"]["schedule1"] = list(self.criminal.schedule1)
        if self.s36_4:
            document["s36_4"] = list(self.s36_4)
        for key in ("agreement", "dpia", "policy_document"):
            if getattr(self, key) is not None:
                document[key] = getattr(self, key)
        return {key: value for key, value in document.items() if value is not None}

    def to_json(self) -> str:
        """Canonical JSON text: what the rule's Cedar policy carries as `@legal_basis`."""
        return json.dumps(self.as_json(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> LegalBasis:
        """The basis `to_json` wrote (read back from a Cedar annotation)."""
        document = json.loads(text)
        sensitive, special, criminal = (
            document.get("sensitive"),
            document.get("special"),
            document.get("criminal"),
        )
        return cls(
            controller=document["controller"],
            gateway=tuple(document["gateway"]),
            regime=document["regime"],
            lawful_basis=document.get("lawful_basis"),
            sensitive=(
                SensitiveProcessing(sensitive["condition"], tuple(sensitive.get("schedule8", ())))
                if sensitive
                else None
            ),
            special=(
                SpecialCategory(special["art9"], tuple(special.get("schedule1", ())))
                if special
                else None
            ),
            criminal=(
                CriminalOffenceData(criminal["art10"], tuple(criminal.get("schedule1", ())))
                if criminal
                else None
            ),
            s36_4=tuple(document.get("s36_4", ())),
            agreement=document.get("agreement"),
            dpia=document.get("dpia"),
            policy_document=document.get("policy_document"),
        )

    def citation(self, rule_id: str) -> str:
        """One line a disclosure, a denial and their audit entries record, e.g.
        `custody-admission-to-police: prison-service under mosa-2005-s1; dpa2018-part3
        s35(2)(b); agreement dsa-x; dpia dpia-y`."""
        parts = [f"{rule_id}: {self.controller} under {', '.join(self.gateway)}"]
        parts.append(" ".join(p for p in (self.regime, self.lawful_basis) if p))
        if self.sensitive is not None:
            parts.append(
                " ".join(
                    ["sensitive", self.sensitive.condition]
                    + (["sch8", *self.sensitive.schedule8] if self.sensitive.schedule8 else [])
                )
            )
        if self.special is not None:
            parts.append(
                " ".join(
                    ["art9", self.special.art9]
                    + (["sch1", *self.special.schedule1] if self.special.schedule1 else [])
                )
            )
        if self.criminal is not None:
            parts.append(
                " ".join(
                    ["art10", self.criminal.art10]
                    + (["sch1", *self.criminal.schedule1] if self.criminal.schedule1 else [])
                )
            )
        if self.s36_4:
            parts.append(f"s36(4) {', '.join(self.s36_4)}")
        for label, value in (
            ("agreement", self.agreement),
            ("dpia", self.dpia),
            ("policy document", self.policy_document),
        ):
            if value is not None:
                parts.append(f"{label} {value}")
        return "; ".join(parts)


class _Reader:
    def __init__(self, file: str, problems: Problems, what: str) -> None:
        self.file, self.problems, self.what = file, problems, what

    def add(self, line: int, message: str) -> None:
        self.problems.add(self.file, line, message)

    def choice(self, node: YamlMap, key: str, allowed: tuple[str, ...], where: str) -> str | None:
        value = node.get(key)
        if key not in node:
            return None
        if not isinstance(value, str) or value not in allowed:
            self.add(node.line_of(key), f"`{key}` of {where} is one of {', '.join(allowed)}")
            return None
        return value

    def ident(self, node: YamlMap, key: str) -> str | None:
        if key not in node:
            return None
        value = node[key]
        if not isinstance(value, str) or not _ID.fullmatch(value):
            self.add(node.line_of(key), f"`{key}` of {self.what} is an id from legal.yaml")
            return None
        return value

    def idents(
        self, node: YamlMap, key: str, where: str, pattern: re.Pattern[str]
    ) -> tuple[str, ...]:
        """A non-empty list of ids (a single id is read as a list of one)."""
        if key not in node:
            return ()
        value = node[key]
        items: list[tuple[Any, int]] = (
            list(items_with_lines(value))
            if isinstance(value, YamlList)
            else [(value, node.line_of(key))]
        )
        if not items:
            self.add(node.line_of(key), f"`{key}` of {where} is a non-empty list")
            return ()
        found: list[str] = []
        for item, line in items:
            if not isinstance(item, str) or not pattern.fullmatch(item):
                self.add(line, f"`{item}` in `{key}` of {where} is not a valid entry")
            elif item in found:
                self.add(line, f"`{item}` is listed twice in `{key}` of {where}")
            else:
                found.append(item)
        return tuple(found) if len(found) == len(items) else ()

    def block(self, node: YamlMap, key: str, allowed: tuple[str, ...]) -> YamlMap | None:
        if key not in node:
            return None
        value = node[key]
        if not isinstance(value, YamlMap):
            self.add(
                node.line_of(key), f"`{key}` of {self.what} is a mapping ({', '.join(allowed)})"
            )
            return None
        check_keys(
            value,
            self.file,
            self.problems,
            allowed=allowed,
            required=allowed[:1],
            what=f"`{key}` of {self.what}",
        )
        return value


def read_legal_basis(
    node: YamlMap, key_line: int, effect: str, file: str, problems: Problems, what: str
) -> LegalBasis | None:
    """The `legal_basis:` mapping of a rule; None after reporting why it is not one.

    Checked here: its shape and the statutory vocabulary (which conditions belong to which
    regime). Checked later, against the bundle (`basis_checks`): the ids, the fields, the roles.
    """
    reader = _Reader(file, problems, f"the legal basis of {what}")
    if not isinstance(node, YamlMap):
        reader.add(
            key_line,
            f"`legal_basis` of {what} is a mapping: controller, gateway, regime, lawful_basis, "
            'and agreement, dpia, policy_document, … (policies/README.md, "Legal basis")',
        )
        return None
    before = len(problems.found)
    required: tuple[str, ...] = (
        "controller",
        "gateway",
        "regime",
        "lawful_basis",
        "agreement",
        "dpia",
    )
    if effect == "forbid":
        # A refusal upholds the law it names; it rests on no lawful basis for processing.
        required = ("controller", "gateway", "regime")
    check_keys(node, file, problems, allowed=BASIS_KEYS, required=required, what=reader.what)
    controller = node.get("controller")
    if "controller" in node and not isinstance(controller, str):
        reader.add(
            node.line_of("controller"), "`controller` is the role disclosing, e.g. prison-service"
        )
    gateway = reader.idents(node, "gateway", reader.what, _ID)
    regime = reader.choice(node, "regime", REGIMES, reader.what)
    lawful_basis = None
    if regime is not None:
        lawful_basis = reader.choice(
            node, "lawful_basis", LAWFUL_BASES[regime], f"{reader.what} ({regime})"
        )
    sensitive = _sensitive(reader, node, regime)
    special = _special(reader, node, regime)
    criminal = _criminal(reader, node, regime)
    s36_4 = reader.idents(node, "s36_4", reader.what, _ID)
    if s36_4 and regime == "dpa2018-part3":
        reader.add(
            node.line_of("s36_4"),
            "`s36_4` authorises law-enforcement data for a purpose that is not law enforcement: "
            "it belongs to a uk-gdpr basis",
        )
    agreement, dpia, policy_document = (
        reader.ident(node, key) for key in ("agreement", "dpia", "policy_document")
    )
    if len(problems.found) > before or not isinstance(controller, str) or regime is None:
        return None
    return LegalBasis(
        controller=controller,
        gateway=gateway,
        regime=regime,  # type: ignore[arg-type]  # one of REGIMES, checked above
        lawful_basis=lawful_basis,
        sensitive=sensitive,
        special=special,
        criminal=criminal,
        s36_4=s36_4,
        agreement=agreement,
        dpia=dpia,
        policy_document=policy_document,
        lines=dict(node.key_lines),
        line=node.line,
    )


def _sensitive(reader: _Reader, node: YamlMap, regime: str | None) -> SensitiveProcessing | None:
    block = reader.block(node, "sensitive", ("condition", "schedule8"))
    if block is None:
        return None
    if regime == "uk-gdpr":
        reader.add(
            node.line_of("sensitive"),
            "`sensitive` (DPA 2018 s35(3)-(5)) belongs to dpa2018-part3; under uk-gdpr special "
            "category data needs `special` (Art 9)",
        )
        return None
    condition = reader.choice(block, "condition", SENSITIVE_CONDITIONS, "`sensitive`")
    schedule8 = reader.idents(block, "schedule8", "`sensitive`", re.compile("|".join(SCHEDULE8)))
    if condition == "s35(5)" and not schedule8 and "schedule8" not in block:
        reader.add(
            block.line,
            "s35(5) (strictly necessary) needs the Schedule 8 condition it meets: "
            f"`schedule8: [para-N]` ({', '.join(SCHEDULE8)})",
        )
        return None
    if condition == "s35(4)" and "schedule8" in block:
        reader.add(
            block.line_of("schedule8"),
            "s35(4) is consent: Schedule 8 conditions belong to s35(5) (strictly necessary)",
        )
        return None
    return SensitiveProcessing(condition, schedule8) if condition else None


def _schedule1(reader: _Reader, block: YamlMap, where: str, part: str | None) -> tuple[str, ...]:
    found = reader.idents(block, "schedule1", where, _SCHEDULE1)
    for entry in found:
        match = _SCHEDULE1.fullmatch(entry)
        assert match is not None
        in_part, paragraph = match[1], int(match[2])
        if paragraph not in _SCHEDULE1_PARTS[in_part]:
            reader.add(block.line_of("schedule1"), f"DPA 2018 Schedule 1 has no {entry}")
            return ()
        if part is not None and in_part != part:
            reader.add(
                block.line_of("schedule1"),
                f"{where}: its Schedule 1 condition is in {part.replace('part', 'Part ')}, "
                f"not {entry}",
            )
            return ()
    return found


def _special(reader: _Reader, node: YamlMap, regime: str | None) -> SpecialCategory | None:
    block = reader.block(node, "special", ("art9", "schedule1"))
    if block is None:
        return None
    if regime == "dpa2018-part3":
        reader.add(
            node.line_of("special"),
            "`special` (UK GDPR Art 9) belongs to uk-gdpr; under dpa2018-part3 sensitive data "
            "needs `sensitive` (s35(4) or s35(5))",
        )
        return None
    art9 = reader.choice(block, "art9", ARTICLE9, "`special`")
    if art9 is None:
        return None
    part = _ARTICLE9_SCHEDULE1.get(art9)
    schedule1 = _schedule1(reader, block, f"Art {art9}", part)
    if part is not None and not schedule1:
        if "schedule1" not in block:
            reader.add(
                block.line,
                f"Art {art9} needs its DPA 2018 Schedule 1 condition (s10): "
                f"`schedule1: [{part}-para-N]`",
            )
        return None
    return SpecialCategory(art9, schedule1)


def _criminal(reader: _Reader, node: YamlMap, regime: str | None) -> CriminalOffenceData | None:
    block = reader.block(node, "criminal", ("art10", "schedule1"))
    if block is None:
        return None
    if regime == "dpa2018-part3":
        reader.add(
            node.line_of("criminal"),
            "`criminal` (UK GDPR Art 10) belongs to uk-gdpr: Part 3 processing of offence data "
            "rests on s35(2)",
        )
        return None
    art10 = reader.choice(block, "art10", ARTICLE10, "`criminal`")
    if art10 is None:
        return None
    schedule1 = _schedule1(reader, block, "Art 10", None)
    if art10 == "schedule1" and not schedule1:
        if "schedule1" not in block:
            reader.add(block.line, "Art 10 with `schedule1` names the Schedule 1 condition(s)")
        return None
    if art10 == "official-authority" and "schedule1" in block:
        reader.add(
            block.line_of("schedule1"),
            "Art 10 under official authority needs no Schedule 1 condition: drop `schedule1`",
        )
        return None
    return CriminalOffenceData(art10, schedule1)
