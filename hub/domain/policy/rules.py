"""Sharing rules: the model, and reading `rules/*.yaml` with every problem reported as
`file:line: message`, checked against the event schemas.

Also home to the YAML reader every bundle file goes through: it keeps the line of each mapping key
and list item, refuses duplicate keys, and reads YAML 1.2 scalars (`no` is a string, `2023-12-12`
is a string, only `true`/`false` are booleans), so that a data protection officer's `no` means no.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

import yaml

from hub.domain.policy.categories import grant_problem
from hub.domain.policy.conditions import (
    LONG_MAX,
    LONG_MIN,
    OPERATORS,
    AllOf,
    AnyOf,
    Compare,
    Condition,
    Not,
    Operator,
    Scalar,
    ValuePath,
)
from hub.domain.policy.review import Review, read_review

if TYPE_CHECKING:
    from hub.domain.policy.bases import LegalBasis
    from hub.domain.schemas import SchemaRegistry

#: The attributes of a person's profile a rule may read (policies/README.md "Profile attributes"),
#: with what is known of their values, in JSON Schema terms, to catch misspelt values at load.
PROFILE_ATTRIBUTES: Final[Mapping[str, Mapping[str, Any]]] = {
    "custody_status": {
        "type": "string",
        "enum": ["in-custody", "in-community", "unlawfully-at-large", "unknown"],
    },
    "establishment": {"type": "string"},
    "home_area": {"type": "string"},
    "left_home_area": {"type": "string"},
    "release_area": {"type": "string"},
    "schedule1": {"type": "boolean"},
    "sex_offender_registered": {"type": "boolean"},
    "notification_requirements_end": {"type": "string"},
    "mappa_category": {
        "type": "string",
        "enum": ["s10(1)(a)", "s10(1)(c)", "s10(1)(d)", "s10(1)(e)"],
    },
    "mappa_category_group": {
        "type": "string",
        "enum": ["registered-sex-offender", "restricted-patient", "other-risk-of-serious-harm"],
    },
    "mappa_level": {"type": "integer"},
    "mappa_area": {"type": "string"},
    "orosh": {"type": "boolean"},
    "restricted_patient": {"type": "boolean"},
    "on_licence": {"type": "boolean"},
    "licence_type": {
        "type": "string",
        "enum": [
            "parole",
            "non-parole",
            "extended-sentence",
            "life",
            "home-detention-curfew",
            "short-term-sex-offender",
            "supervised-release-order",
        ],
    },
    "licence_end": {"type": "string"},
    "statutory_supervision": {"type": "boolean"},
    "supervising_area": {"type": "string"},
    "left_supervising_area": {"type": "string"},
    "recalled": {"type": "boolean"},
    "missing": {"type": "boolean"},
    "deceased": {"type": "boolean"},
    "removed_from_scotland": {"type": "boolean"},
    "health_consent": {"type": "boolean"},
    "risk_level": {"type": "string"},
}

#: The envelope attributes a rule may read as `event.<name>`; `identifiers` and `data` go deeper.
EVENT_ATTRIBUTES: Final = ("type", "source", "time")

_DURATION = re.compile(r"([1-9][0-9]{0,5})([mhd])")
_DURATION_UNITS: Final = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
}


# --- YAML with line numbers -------------------------------------------------------------------


class YamlMap(dict[str, Any]):
    """A YAML mapping that remembers its own line and the line of each key (1-based)."""

    def __init__(self, line: int = 1) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class YamlList(list[Any]):
    """A YAML sequence that remembers its own line and the line of each item (1-based)."""

    def __init__(self, line: int = 1) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema booleans and no implicit dates."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


@dataclass
class Problems:
    """Every problem found while loading a bundle; reported together, never one at a time."""

    found: list[tuple[str, int, str]] = field(default_factory=list)

    def add(self, file: str, line: int, message: str) -> None:
        self.found.append((file, line, message))

    def __bool__(self) -> bool:
        return bool(self.found)

    def lines(self) -> list[str]:
        ordered = sorted(set(self.found), key=lambda p: (p[0], p[1], p[2]))
        return [f"{file}:{line}: {message}" for file, line, message in ordered]


#: What `load_yaml` returns for text that is not YAML at all.
UNREADABLE: Final = object()


def load_yaml(text: str, file: str, problems: Problems) -> Any:
    """Parse one YAML document into plain values, YamlMap and YamlList (None if it is empty);
    UNREADABLE if it is not YAML, the reason added to `problems`."""
    try:
        root = yaml.compose(text, Loader=_Yaml12Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        problems.add(file, line, f"not valid YAML: {error.problem or error}")
        return UNREADABLE
    except yaml.YAMLError as error:
        problems.add(file, 1, f"not valid YAML: {error}")
        return UNREADABLE
    if root is None:
        return None
    constructor = _Yaml12Loader("")
    try:
        return _convert(root, constructor, file, problems)
    finally:
        constructor.dispose()


def _convert(node: yaml.Node, constructor: yaml.SafeLoader, file: str, problems: Problems) -> Any:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        mapping = YamlMap(line)
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if (
                not isinstance(key_node, yaml.ScalarNode)
                or key_node.tag == "tag:yaml.org,2002:merge"
            ):
                problems.add(file, key_line, "keys must be plain names")
                continue
            # Keys are read as written: YAML 1.1 would turn `on:` into the boolean true.
            key = str(key_node.value)
            if key in mapping:
                problems.add(
                    file,
                    key_line,
                    f"`{key}` appears twice (first on line {mapping.key_lines[key]})",
                )
                continue
            mapping.key_lines[key] = key_line
            mapping[key] = _convert(value_node, constructor, file, problems)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        items = YamlList(line)
        for item in node.value:
            items.item_lines.append(item.start_mark.line + 1)
            items.append(_convert(item, constructor, file, problems))
        return items
    try:
        return constructor.construct_object(node, deep=True)
    except yaml.YAMLError as error:
        problems.add(file, line, f"cannot read this value: {error}")
        return None


def items_with_lines(values: YamlList) -> Iterator[tuple[Any, int]]:
    yield from zip(values, values.item_lines, strict=True)


def check_keys(
    node: YamlMap,
    file: str,
    problems: Problems,
    *,
    allowed: Sequence[str],
    required: Sequence[str] = (),
    what: str,
) -> None:
    for key in node:
        if key not in allowed:
            problems.add(
                file,
                node.line_of(key),
                f"unknown key `{key}` in {what}; known: {', '.join(allowed)}",
            )
    for key in required:
        if key not in node:
            problems.add(file, node.line, f"{what} has no `{key}`")


def text_value(node: YamlMap, key: str, file: str, problems: Problems, what: str) -> str | None:
    """A required or optional non-empty string; None (and a problem if present) otherwise."""
    if key not in node:
        return None
    value = node[key]
    if not isinstance(value, str) or not value.strip():
        problems.add(file, node.line_of(key), f"`{key}` of {what} must be non-empty text")
        return None
    return value.strip()


# --- durations --------------------------------------------------------------------------------


def parse_duration(text: str) -> timedelta | None:
    """`30m`, `4h`, `2d` → timedelta; None if it is not one."""
    match = _DURATION.fullmatch(text)
    if match is None:
        return None
    return int(match[1]) * _DURATION_UNITS[match[2]]


def format_duration(duration: timedelta) -> str:
    """The shortest `Nd`/`Nh`/`Nm` text for a duration `parse_duration` could have read."""
    for unit in ("d", "h", "m"):
        count, rest = divmod(duration, _DURATION_UNITS[unit])
        if not rest:
            return f"{count}{unit}"
    raise ValueError(f"{duration} is not a whole number of minutes")


# --- the event schemas, as rules see them -----------------------------------------------------


class SchemaIndex:
    """Answers "does this path exist, and what may its value be?" for each event type, walking
    the JSON Schemas' `properties` through `$ref`, `allOf`/`anyOf`/`oneOf` and array `items`.

    Rules are checked against the latest schema version of each type: the hub upcasts stored
    notifications to it before anything reads them."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self.event_types: frozenset[str] = frozenset(registry.event_types())
        # SchemaRegistry keeps its schemas inside validators and has no accessor for them yet.
        bodies = registry._bodies
        self._bodies: dict[str, Mapping[str, Any]] = {
            event_type: _mapping(bodies[(event_type, registry.versions(event_type)[-1])].schema)
            for event_type in self.event_types
        }
        self._envelope: Mapping[str, Any] = _mapping(registry._envelope.schema)
        self.council_areas: frozenset[str] = frozenset(
            code
            for schema in (self._envelope, *self._bodies.values())
            for code in schema.get("$defs", {}).get("council_area", {}).get("enum", [])
            if isinstance(code, str)
        )

    def body_node(
        self, event_type: str, segments: Sequence[str], *, through_lists: bool
    ) -> SchemaNode | str:
        """The schema at `data.<segments>` of `event_type`, or why there is none."""
        schema = self._bodies[event_type]
        return _walk(SchemaNode(schema, (schema,)), segments, "data", through_lists=through_lists)

    def envelope_node(self, segments: Sequence[str]) -> SchemaNode | str:
        schema = self._envelope
        return _walk(SchemaNode(schema, (schema,)), segments, "", through_lists=False)

    def envelope_attributes(self) -> list[str]:
        return sorted(self._envelope.get("properties", {}))


@dataclass(frozen=True)
class SchemaNode:
    """A place in a JSON Schema: the root document (for `$ref`) and the node(s) that describe it."""

    root: Mapping[str, Any]
    nodes: tuple[Mapping[str, Any], ...]

    def expanded(self) -> list[Mapping[str, Any]]:
        out: list[Mapping[str, Any]] = []
        seen: set[int] = set()

        def visit(node: Any) -> None:
            if not isinstance(node, Mapping) or id(node) in seen:
                return
            seen.add(id(node))
            out.append(node)
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#"):
                visit(_resolve_pointer(self.root, ref[1:]))
            for keyword in ("allOf", "anyOf", "oneOf"):
                for member in node.get(keyword, []) or []:
                    visit(member)

        for node in self.nodes:
            visit(node)
        return out

    def types(self) -> set[str]:
        found: set[str] = set()
        for node in self.expanded():
            kind = node.get("type")
            if isinstance(kind, str):
                found.add(kind)
            elif isinstance(kind, list):
                found.update(k for k in kind if isinstance(k, str))
        return found

    def enum(self) -> list[Any] | None:
        for node in self.expanded():
            if "const" in node:
                return [node["const"]]
            if isinstance(node.get("enum"), list):
                return list(node["enum"])
        return None

    def child(self, name: str) -> SchemaNode | None:
        found = tuple(
            node["properties"][name]
            for node in self.expanded()
            if isinstance(node.get("properties"), Mapping) and name in node["properties"]
        )
        return SchemaNode(self.root, found) if found else None

    def items(self) -> SchemaNode | None:
        found = tuple(
            node["items"] for node in self.expanded() if isinstance(node.get("items"), Mapping)
        )
        return SchemaNode(self.root, found) if found else None

    def property_names(self) -> list[str]:
        names: set[str] = set()
        for node in self.expanded():
            if isinstance(node.get("properties"), Mapping):
                names.update(node["properties"])
        return sorted(names)


def _mapping(schema: object) -> Mapping[str, Any]:
    return schema if isinstance(schema, Mapping) else {}


def _resolve_pointer(root: Mapping[str, Any], pointer: str) -> Any:
    node: Any = root
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or token not in node:
            return None
        node = node[token]
    return node


def _walk(
    start: SchemaNode, segments: Sequence[str], prefix: str, *, through_lists: bool
) -> SchemaNode | str:
    node = start
    walked = prefix
    for segment in segments:
        if "array" in node.types():
            if not through_lists:
                return f"{walked} is a list: a condition cannot look inside it (use `contains`)"
            items = node.items()
            if items is None:
                return f"{walked} is a list whose items the schema does not describe"
            node = items
        child = node.child(segment)
        if child is None:
            known = node.property_names()
            hint = f"; known here: {', '.join(known)}" if known else ""
            where = f"in {walked}" if walked else "at the top level"
            return f"no field `{segment}` {where}{hint}"
        node = child
        walked = f"{walked}.{segment}" if walked else segment
    return node


def value_problem(node: SchemaNode | Mapping[str, Any], value: Scalar, where: str) -> str | None:
    """Why `value` can never be the value at `where` (described by `node`), or None."""
    schema = node if isinstance(node, SchemaNode) else SchemaNode(node, (node,))
    types = schema.types()
    kind = "boolean" if type(value) is bool else "integer" if type(value) is int else "string"
    if types and kind not in types and not (kind == "integer" and "number" in types):
        hint = " (quote it if it is meant as text)" if "string" in types else ""
        kinds = " or ".join(sorted(types))
        article = "an" if kinds[0] in "aeiou" else "a"
        return f"{where} is {article} {kinds}, so {_show(value)} never matches{hint}"
    allowed = schema.enum()
    if allowed is not None and not any(type(a) is type(value) and a == value for a in allowed):
        listed = ", ".join(_show(a) for a in allowed)
        return f"{where} is one of {listed}; {_show(value)} never matches (misspelt?)"
    return None


def _show(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value).lower()


# --- the rule model ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecipientSelector:
    """One item of `share_with`: recipients of `role`, narrowed by `area` or `recipient`."""

    role: str
    area: ValuePath | None = None
    recipient: ValuePath | None = None
    line: int = 0

    def __str__(self) -> str:
        if self.area is not None:
            return f"{self.role} serving the area at {self.area}"
        if self.recipient is not None:
            return f"the {self.role} named at {self.recipient}"
        return f"every {self.role}"


@dataclass(frozen=True, slots=True)
class SharingRule:
    """One clause of a data-sharing agreement (policies/README.md, "rules/*.yaml")."""

    id: str
    title: str
    effect: Literal["permit", "forbid"]
    on: tuple[str, ...]
    when: tuple[Condition, ...]
    share_with: tuple[RecipientSelector, ...]
    fields: tuple[str, ...]
    purpose: str | None
    legal_basis: LegalBasis | None
    acknowledge_within: timedelta | None
    follows_person: bool
    file: str
    line: int
    #: Case-by-case review of its disclosures (`hub.domain.policy.review`); None: none.
    review: Review | None = None

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


RULE_KEYS: Final = (
    "id",
    "title",
    "effect",
    "on",
    "when",
    "share_with",
    "fields",
    "purpose",
    "legal_basis",
    "acknowledge_within",
    "follows_person",
    "review",
)
_OPERATORS: Final[Mapping[str, Operator]] = {name: name for name in OPERATORS}
_RULE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")


class RuleReader:
    """Reads the rules of one file, checking each path, value and field against the schemas."""

    def __init__(self, schemas: SchemaIndex, file: str, problems: Problems) -> None:
        self.schemas = schemas
        self.file = file
        self.problems = problems
        #: Every rule id and `share_with` role read, with its line, kept even for rules with
        #: problems so that cross-file checks (duplicate ids, unknown roles) report everything.
        self.ids: list[tuple[str, int]] = []
        self.roles: list[tuple[str, int]] = []

    def add(self, line: int, message: str) -> None:
        self.problems.add(self.file, line, message)

    def read_file(self, document: Any) -> list[SharingRule]:
        if document is None:
            self.add(1, "the file is empty: expected `rules:` and a list of rules")
            return []
        if not isinstance(document, YamlMap):
            self.add(1, "expected a mapping with `rules:`")
            return []
        check_keys(
            document,
            self.file,
            self.problems,
            allowed=("title", "description", "rules"),
            required=("rules",),
            what="a rules file",
        )
        rules_node = document.get("rules")
        if "rules" in document and not isinstance(rules_node, YamlList):
            self.add(document.line_of("rules"), "`rules` must be a list of rules")
            return []
        rules = []
        for node, line in items_with_lines(rules_node or YamlList()):
            rule = self.read_rule(node, line)
            if rule is not None:
                rules.append(rule)
        return rules

    def read_rule(self, node: Any, line: int) -> SharingRule | None:
        if not isinstance(node, YamlMap):
            self.add(line, "a rule must be a mapping (id, title, on, when, share_with, …)")
            return None
        problems_before = len(self.problems.found)
        rule_id = node.get("id")
        if not isinstance(rule_id, str) or not _RULE_ID.fullmatch(rule_id):
            self.add(
                node.line_of("id"),
                "a rule needs an `id` of lower-case letters, digits and hyphens",
            )
            rule_id = None
        else:
            self.ids.append((rule_id, node.line_of("id")))
        what = f"rule {rule_id}" if rule_id else "this rule"
        check_keys(node, self.file, self.problems, allowed=RULE_KEYS, what=what)
        title = text_value(node, "title", self.file, self.problems, what) or (rule_id or "")

        effect = node.get("effect", "permit")
        if effect not in ("permit", "forbid"):
            self.add(node.line_of("effect"), "`effect` must be `permit` or `forbid`")
            effect = "permit"

        on = self._event_types(node, what)
        when = self._conditions(node, on)
        share_with = self._share_with(node, on, effect, what)
        fields = self._fields(node, on, effect, what, share_with)

        purpose = text_value(node, "purpose", self.file, self.problems, what)
        legal_basis = None
        if "legal_basis" in node:
            from hub.domain.policy.bases import read_legal_basis  # bases reads YAML through here

            legal_basis = read_legal_basis(
                node["legal_basis"],
                node.line_of("legal_basis"),
                effect,
                self.file,
                self.problems,
                what,
            )
        for key in ("purpose", "legal_basis"):
            # A forbid rule states the purpose and basis of its refusal: every denial records them.
            if key not in node:
                self.add(node.line, f"{effect} {what} has no `{key}`")

        acknowledge_within = None
        if "acknowledge_within" in node:
            raw = node["acknowledge_within"]
            acknowledge_within = parse_duration(raw) if isinstance(raw, str) else None
            if acknowledge_within is None:
                self.add(
                    node.line_of("acknowledge_within"),
                    "`acknowledge_within` must be a duration such as 30m, 4h or 2d",
                )
            elif effect == "forbid":
                self.add(node.line_of("acknowledge_within"), "a forbid rule discloses nothing")

        follows_person = node.get("follows_person", False)
        if type(follows_person) is not bool:
            self.add(node.line_of("follows_person"), "`follows_person` must be true or false")
            follows_person = False
        elif follows_person and effect == "forbid":
            self.add(
                node.line_of("follows_person"),
                "a forbid rule applies in every mode; `follows_person` is for permit rules",
            )

        review = read_review(self, node, on, effect, parse_duration)

        if rule_id is None or len(self.problems.found) > problems_before:
            return None
        return SharingRule(
            id=rule_id,
            title=title,
            effect="forbid" if effect == "forbid" else "permit",
            on=on,
            when=when,
            share_with=share_with,
            fields=fields,
            purpose=purpose,
            legal_basis=legal_basis,
            acknowledge_within=acknowledge_within,
            follows_person=follows_person,
            file=self.file,
            line=node.line,
            review=review,
        )

    # -- parts of a rule -----------------------------------------------------------------------

    def _event_types(self, node: YamlMap, what: str) -> tuple[str, ...]:
        if "on" not in node:
            self.add(node.line, f"{what} has no `on` (the event types it is about)")
            return ()
        value, line = node["on"], node.line_of("on")
        if not isinstance(value, YamlList) or not value:
            self.add(line, "`on` must be a non-empty list of event types")
            return ()
        found: list[str] = []
        for item, item_line in items_with_lines(value):
            if not isinstance(item, str) or item not in self.schemas.event_types:
                known = ", ".join(sorted(self.schemas.event_types))
                self.add(item_line, f"unknown event type `{item}`; known: {known}")
            elif item in found:
                self.add(item_line, f"`{item}` is listed twice")
            else:
                found.append(item)
        return tuple(found) if len(found) == len(value) else ()

    def _conditions(self, node: YamlMap, on: tuple[str, ...]) -> tuple[Condition, ...]:
        if "when" not in node or node["when"] is None:
            return ()
        value = node["when"]
        if not isinstance(value, YamlList):
            self.add(node.line_of("when"), "`when` must be a list of conditions")
            return ()
        conditions = [self.condition(item, line, on) for item, line in items_with_lines(value)]
        return tuple(c for c in conditions if c is not None)

    def condition(self, node: Any, line: int, on: tuple[str, ...]) -> Condition | None:
        """One condition (policies/README.md, "Conditions"); None after reporting why not."""
        if isinstance(node, YamlMap):
            line = node.line
        if not isinstance(node, YamlMap) or len(node) != 1:
            self.add(
                line,
                "a condition is one `PATH: VALUE`, `PATH: {operator: argument}`, "
                "`any: [...]`, `all: [...]` or `not: CONDITION`",
            )
            return None
        ((key, value),) = node.items()
        if key in ("any", "all"):
            if not isinstance(value, YamlList) or not value:
                self.add(line, f"`{key}` takes a non-empty list of conditions")
                return None
            items = [self.condition(i, i_line, on) for i, i_line in items_with_lines(value)]
            if any(i is None for i in items):
                return None
            nested = tuple(i for i in items if i is not None)
            return AnyOf(nested, line) if key == "any" else AllOf(nested, line)
        if key == "not":
            inner = self.condition(value, line, on)
            return None if inner is None else Not(inner, line)
        path = self.path(key, line, on, lists=False)
        if path is None:
            return None
        if isinstance(value, YamlMap):
            if len(value) != 1:
                self.add(line, "an operator condition has exactly one operator, e.g. `{in: [...]}`")
                return None
            ((name, argument),) = value.items()
            op = _OPERATORS.get(name)
            if op is None:
                self.add(line, f"unknown operator `{name}`; operators: {', '.join(OPERATORS)}")
                return None
            return self._compare(path, op, argument, line, on)
        if isinstance(value, YamlList):
            self.add(line, f"to match one of several values write `{key}: {{in: [...]}}`")
            return None
        return self._compare(path, "equals", value, line, on)

    def _compare(
        self, path: ValuePath, op: Operator, argument: Any, line: int, on: tuple[str, ...]
    ) -> Compare | None:
        if op == "present":
            if type(argument) is not bool:
                self.add(line, "`present` takes true or false")
                return None
            return Compare(path, op, argument, line)
        if op in ("in", "not_in"):
            if not isinstance(argument, YamlList) or not argument:
                self.add(line, f"`{op}` takes a non-empty list of values")
                return None
            values = [
                self._scalar(a, a_line, str(path)) for a, a_line in items_with_lines(argument)
            ]
            if any(v is None for v in values):
                return None
            scalars = tuple(v for v in values if v is not None)
            if not self._values_fit(path, op, scalars, line, on):
                return None
            return Compare(path, op, scalars, line)
        scalar = self._scalar(argument, line, str(path))
        if scalar is None:
            return None
        if op in ("at_least", "at_most") and type(scalar) is not int:
            self.add(line, f"`{op}` takes a whole number")
            return None
        if not self._values_fit(path, op, (scalar,), line, on):
            return None
        return Compare(path, op, scalar, line)

    def _scalar(self, value: Any, line: int, where: str) -> Scalar | None:
        if value is None:
            self.add(
                line, f"no value for {where}: to require that it has none, use {{present: false}}"
            )
        elif isinstance(value, float):
            self.add(line, f"{value} is not a whole number: conditions compare whole numbers only")
        elif isinstance(value, YamlMap | YamlList):
            self.add(line, "expected a single value (text, a whole number, true or false)")
        elif type(value) is int and not LONG_MIN <= value <= LONG_MAX:
            self.add(line, f"{value} is too large a number")
        elif isinstance(value, str | int | bool):
            return value
        else:
            self.add(line, "expected a single value (text, a whole number, true or false)")
        return None

    def _values_fit(
        self,
        path: ValuePath,
        op: Operator,
        values: Sequence[Scalar],
        line: int,
        on: tuple[str, ...],
    ) -> bool:
        ok = True
        for described, node in self._described(path, on):
            if op in ("at_least", "at_most"):
                if "integer" not in node.types() and node.types():
                    self.add(line, f"`{op}` needs a whole number, but {described} is not one")
                    return False
                continue
            if op == "contains":
                if node.types() and "array" not in node.types():
                    self.add(line, f"`contains` needs a list, but {described} is not one")
                    return False
                items = node.items()
                if items is None:
                    continue
                node = items
                described = f"each item of {described}"
            for value in values:
                problem = value_problem(node, value, described)
                if problem is not None:
                    self.add(line, problem)
                    ok = False
        return ok

    def _described(self, path: ValuePath, on: tuple[str, ...]) -> Iterator[tuple[str, SchemaNode]]:
        """The schema node(s) at a path already known to exist, for checking values."""
        if path.root == "profile":
            attribute = PROFILE_ATTRIBUTES[path.segments[0]]
            yield str(path), SchemaNode(attribute, (attribute,))
            return
        for event_type in on:
            node = self._event_node(path, event_type, lists=False)
            if isinstance(node, SchemaNode):
                where = f"{path} (in {event_type})" if len(on) > 1 else str(path)
                yield where, node

    def path(self, text: Any, line: int, on: tuple[str, ...], *, lists: bool) -> ValuePath | None:
        """A condition or `share_with` path that exists for every event type in `on`."""
        if not isinstance(text, str):
            self.add(line, "expected a path such as event.data.release.type or profile.schedule1")
            return None
        try:
            path = ValuePath.parse(text)
        except ValueError as error:
            self.add(line, f"unknown path or keyword: {error}")
            return None
        if any(s.startswith("__") for s in path.segments):
            self.add(line, f"`{text}`: names starting with __ are reserved")
            return None
        if path.root == "profile":
            if len(path.segments) != 1 or path.segments[0] not in PROFILE_ATTRIBUTES:
                known = ", ".join(PROFILE_ATTRIBUTES)
                self.add(line, f"unknown profile attribute `{text}`; known: {known}")
                return None
            return path
        ok = True
        for event_type in on:
            node = self._event_node(path, event_type, lists=lists)
            if isinstance(node, str):
                self.add(line, f"`{text}` is not in the schema of {event_type}: {node}")
                ok = False
        return path if ok else None

    def _event_node(self, path: ValuePath, event_type: str, *, lists: bool) -> SchemaNode | str:
        first, rest = path.segments[0], path.segments[1:]
        if first in EVENT_ATTRIBUTES:
            if rest:
                return f"event.{first} has no fields"
            return self.schemas.envelope_node((first,))
        if first == "identifiers":
            if len(rest) != 1:
                return "name one identifier scheme, e.g. event.identifiers.pnc_id"
            return self.schemas.envelope_node(path.segments)
        if first == "data":
            if not rest:
                return "name a field inside event.data"
            return self.schemas.body_node(event_type, rest, through_lists=lists)
        return (
            "an event path is event.type, event.source, event.time, "
            "event.identifiers.<scheme> or event.data.<field>"
        )

    def _share_with(
        self, node: YamlMap, on: tuple[str, ...], effect: str, what: str
    ) -> tuple[RecipientSelector, ...]:
        if "share_with" not in node:
            if effect == "permit":
                self.add(node.line, f"permit {what} has no `share_with`")
            return ()
        value, line = node["share_with"], node.line_of("share_with")
        if not isinstance(value, YamlList) or not value:
            self.add(line, "`share_with` must be a non-empty list of {role, area | recipient}")
            return ()
        selectors = []
        for item, item_line in items_with_lines(value):
            if not isinstance(item, YamlMap):
                self.add(item_line, "each `share_with` item is a mapping with `role`")
                continue
            check_keys(
                item,
                self.file,
                self.problems,
                allowed=("role", "area", "recipient"),
                required=("role",),
                what="a `share_with` item",
            )
            role = item.get("role")
            if isinstance(role, str):
                self.roles.append((role, item.line_of("role")))
            elif "role" in item:
                self.add(item.line_of("role"), "`role` must be a role name")
            if "area" in item and "recipient" in item:
                self.add(item.line, "a `share_with` item has `area` or `recipient`, not both")
                continue
            area = recipient = None
            for key in ("area", "recipient"):
                if key in item:
                    found = self.path(item[key], item.line_of(key), on, lists=False)
                    if found is not None and self._string_valued(found, on, item.line_of(key)):
                        area, recipient = (found, None) if key == "area" else (None, found)
            if isinstance(role, str):
                selectors.append(RecipientSelector(role, area, recipient, item.line))
        return tuple(selectors)

    def _string_valued(self, path: ValuePath, on: tuple[str, ...], line: int) -> bool:
        for described, node in self._described(path, on):
            if node.types() and "string" not in node.types():
                self.add(line, f"{described} is not text, so it cannot name an area or recipient")
                return False
        return True

    def _fields(
        self,
        node: YamlMap,
        on: tuple[str, ...],
        effect: str,
        what: str,
        share_with: Sequence[RecipientSelector],
    ) -> tuple[str, ...]:
        if "fields" not in node:
            if effect == "permit":
                self.add(node.line, f"permit {what} has no `fields`")
            return ()
        value, line = node["fields"], node.line_of("fields")
        if effect == "forbid":
            self.add(line, "a forbid rule withholds the whole notification; it has no `fields`")
            return ()
        if not isinstance(value, YamlList) or not value:
            self.add(line, "`fields` must be a non-empty list of envelope paths")
            return ()
        found: set[str] = set()
        for item, item_line in items_with_lines(value):
            if not isinstance(item, str) or not item:
                self.add(item_line, "a field is a path such as data.release.address")
                continue
            problem = self.field_problem(item, on) or grant_problem(
                self.schemas, item, on, [s.role for s in share_with]
            )
            if problem is not None:
                self.add(item_line, problem)
            elif item in found:
                self.add(item_line, f"`{item}` is listed twice")
            found.add(item)
        return tuple(sorted(found))

    def field_problem(self, field_path: str, on: Sequence[str]) -> str | None:
        """Why `field_path` is not a path into the envelope of every type in `on`, or None."""
        segments = field_path.split(".")
        if field_path.startswith("event."):
            return f"`{field_path}`: fields are envelope paths without `event.`"
        if any(not s for s in segments):
            return f"`{field_path}` is not a path"
        if segments[0] != "data":
            found = self.schemas.envelope_node(segments)
            if isinstance(found, str):
                return f"`{field_path}` is not a field of the envelope: {found}"
            return None
        for event_type in on:
            found = self.schemas.body_node(event_type, segments[1:], through_lists=True)
            if isinstance(found, str):
                return f"`{field_path}` is not in the schema of {event_type}: {found}"
        return None
