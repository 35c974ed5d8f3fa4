"""Sharing rules compiled to Cedar policies, and disclosure decisions asked of Cedar.

Each rule becomes one Cedar policy: its id, fields, purpose, legal basis (canonical JSON,
`LegalBasis.to_json`) and acknowledgement time ride along as annotations, its `on` is the action
scope, and its `share_with` and conditions make the `when` body. The request is: principal a
`Recipient` (attributes `id`, `role`, `areas`), action the event type, resource the
notification, context the decision view (`conditions.py`):

    context.event.{type, source, time, identifiers.<scheme>, data.<…>}   only the paths rules read
    context.profile.<attribute>
    context.follows_person_to                                             records-follow mode only

A recipient's `areas` include the former GSS codes of the areas it serves, so that a former code
in a notification still finds it, as `Directory.serving` does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final, Literal

import cedarpy

from hub.domain.notifications import Notification
from hub.domain.policy.bases import LegalBasis
from hub.domain.policy.conditions import AllOf, AnyOf, Compare, Condition, Not, Scalar, ValuePath
from hub.domain.policy.directory import Directory
from hub.domain.policy.rules import (
    RecipientSelector,
    SharingRule,
    format_duration,
    parse_duration,
)

PRINCIPAL_TYPE: Final = "Recipient"
ACTION_TYPE: Final = "Action"
RESOURCE_TYPE: Final = "Notification"
_FIELD_SEPARATOR: Final = ", "


def cedar_string(text: str) -> str:
    """`text` as a Cedar string literal."""
    out = ['"']
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            out.append(f"\\u{{{ord(char):x}}}")
    out.append('"')
    return "".join(out)


def _literal(value: Scalar) -> str:
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    return cedar_string(str(value))


def _access(path: ValuePath, depth: int | None = None) -> str:
    segments = path.segments if depth is None else path.segments[:depth]
    return "context" + "".join(f"[{cedar_string(s)}]" for s in (path.root, *segments))


def _guard(path: ValuePath) -> str:
    """`has` for every step of the path, so a missing value makes the comparison false."""
    return " && ".join(
        f"{_access(path, depth)} has {cedar_string(path.segments[depth])}"
        for depth in range(len(path.segments))
    )


def compile_condition(condition: Condition) -> str:
    """A condition as a Cedar expression that is false, never an error, on missing values."""
    match condition:
        case Compare(path=path, op=op, value=value):
            guard, value_at = _guard(path), _access(path)
            if op == "present":
                return f"({guard})" if value else f"!({guard})"
            if isinstance(value, tuple):
                listed = "[" + ", ".join(_literal(v) for v in value) + "]"
                test = f"{listed}.contains({value_at})"
                if op == "not_in":
                    test = f"!({test})"
                return f"({guard} && {test})"
            assert not isinstance(value, tuple)
            operator = {"equals": "==", "not": "!=", "at_least": ">=", "at_most": "<="}.get(op)
            if operator is not None:
                return f"({guard} && {value_at} {operator} {_literal(value)})"
            if op == "contains":
                return f"({guard} && {value_at}.contains({_literal(value)}))"
            raise AssertionError(f"unknown operator {op}")
        case AnyOf(conditions=items):
            return "(" + " || ".join(compile_condition(i) for i in items) + ")"
        case AllOf(conditions=items):
            return "(" + " && ".join(compile_condition(i) for i in items) + ")"
        case Not(condition=inner):
            return f"!{compile_condition(inner)}"
    raise AssertionError(f"not a condition: {condition!r}")


def compile_selector(selector: RecipientSelector) -> str:
    role = f"principal.role == {cedar_string(selector.role)}"
    if selector.area is not None:
        path = selector.area
        return f"({role} && {_guard(path)} && principal.areas.contains({_access(path)}))"
    if selector.recipient is not None:
        path = selector.recipient
        return f"({role} && {_guard(path)} && principal.id == {_access(path)})"
    return f"({role})"


def _recipients_clause(rule: SharingRule) -> str:
    selected = " || ".join(compile_selector(s) for s in rule.share_with) or "true"
    if rule.effect == "forbid":
        return f"({selected})"
    if rule.follows_person:
        # Records follow the person: the receiving establishment, instead of `share_with`.
        return (
            "(if context has follows_person_to "
            "then principal.id == context.follows_person_to "
            f"else ({selected}))"
        )
    return f"(!(context has follows_person_to) && ({selected}))"


def compile_rule(rule: SharingRule) -> str:
    """The Cedar policy of one rule."""
    annotations = {
        "id": rule.id,
        "title": rule.title,
        "source": rule.location,
        "fields": _FIELD_SEPARATOR.join(rule.fields) if rule.fields else None,
        "purpose": rule.purpose,
        "legal_basis": rule.legal_basis.to_json() if rule.legal_basis else None,
        "acknowledge_within": (
            format_duration(rule.acknowledge_within) if rule.acknowledge_within else None
        ),
        "review": rule.review.describe() if rule.review else None,
    }
    lines = [f"@{key}({cedar_string(value)})" for key, value in annotations.items() if value]
    actions = ", ".join(f"{ACTION_TYPE}::{cedar_string(t)}" for t in rule.on)
    lines.append(
        f"{rule.effect} (principal is {PRINCIPAL_TYPE}, action in [{actions}], "
        f"resource is {RESOURCE_TYPE})"
    )
    body = [_recipients_clause(rule), *(compile_condition(c) for c in rule.when)]
    lines.append("when {\n  " + "\n  && ".join(body) + "\n};")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """A rule as Cedar holds it: what a decision needs, read back from the policy's annotations."""

    rule_id: str
    effect: Literal["permit", "forbid"]
    fields: tuple[str, ...]
    purpose: str | None
    legal_basis: LegalBasis | None
    acknowledge_within: timedelta | None
    #: The line a disclosure or denial by this rule records of its legal basis (made once: every
    #: decision by the rule reads it).
    citation: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        citation = self.legal_basis.citation(self.rule_id) if self.legal_basis else None
        object.__setattr__(self, "citation", citation)

    @classmethod
    def from_json(cls, policy: Mapping[str, Any]) -> CompiledPolicy:
        """From a policy in Cedar's JSON form (`cedarpy.policies_to_json_str`)."""
        notes: Mapping[str, str] = policy.get("annotations", {})
        fields = notes.get("fields")
        acknowledge = notes.get("acknowledge_within")
        return cls(
            rule_id=notes["id"],
            effect="forbid" if policy["effect"] == "forbid" else "permit",
            fields=tuple(fields.split(_FIELD_SEPARATOR)) if fields else (),
            purpose=notes.get("purpose"),
            legal_basis=LegalBasis.from_json(notes["legal_basis"])
            if "legal_basis" in notes
            else None,
            acknowledge_within=parse_duration(acknowledge) if acknowledge else None,
        )

    def agrees_with(self, rule: SharingRule) -> bool:
        return (
            self.rule_id,
            self.effect,
            self.fields,
            self.purpose,
            self.legal_basis,
            self.acknowledge_within,
        ) == (
            rule.id,
            rule.effect,
            rule.fields,
            rule.purpose,
            rule.legal_basis,
            rule.acknowledge_within,
        )


@dataclass(frozen=True, slots=True)
class CedarOutcome:
    """Cedar's answer for one candidate: allowed or not, and the policies that determined it
    (the permit policies that matched when allowed; the forbid policies that matched, if any,
    when not)."""

    recipient_id: str
    allowed: bool
    determining: tuple[CompiledPolicy, ...]


class CompileError(Exception):
    """A rule whose Cedar does not parse or does not read back as written: a bug in this module,
    reported against the rule as a load problem."""

    def __init__(self, problems: list[tuple[SharingRule, str]]) -> None:
        super().__init__("; ".join(f"{rule.location}: {message}" for rule, message in problems))
        self.problems = problems


class CedarPolicies:
    """The bundle's rules as parsed Cedar policy sets, with the directory as Cedar entities; all
    parsed once, here, so that `decide` only builds requests.

    There is one policy set per event type, holding the policies of the rules on that type (a
    rule on several types is in each of their sets). Cedar evaluates every policy of a set for
    every request, so this keeps each decision to the handful of rules that can apply to it."""

    def __init__(self, rules: Sequence[SharingRule], directory: Directory) -> None:
        #: The whole bundle in Cedar, for people to read.
        self.text = "\n\n".join(compile_rule(rule) for rule in rules)
        #: Each rule as Cedar reads it back, by rule id.
        self.policies: dict[str, CompiledPolicy] = {}
        self._sets: dict[str, tuple[cedarpy.PolicySet, dict[str, CompiledPolicy]]] = {}
        try:
            parsed = _parse(self.text)
        except ValueError:
            raise CompileError(_unparsable(rules)) from None
        self.policies = {
            p.rule_id: p for p in (CompiledPolicy.from_json(j) for j in parsed.values())
        }
        mismatched = [
            (rule, "the compiled Cedar policy does not read back as the rule says")
            for rule in rules
            if rule.id not in self.policies or not self.policies[rule.id].agrees_with(rule)
        ]
        if mismatched:
            raise CompileError(mismatched)
        for event_type in sorted({t for rule in rules for t in rule.on}):
            text = "\n\n".join(compile_rule(rule) for rule in rules if event_type in rule.on)
            by_policy_id = {
                policy_id: self.policies[CompiledPolicy.from_json(policy).rule_id]
                for policy_id, policy in _parse(text).items()
            }
            self._sets[event_type] = (cedarpy.PolicySet.from_str(text), by_policy_id)
        self._entities = cedarpy.Entities.from_json_str(
            json.dumps(
                [
                    {
                        "uid": {"type": PRINCIPAL_TYPE, "id": recipient.id},
                        "attrs": {
                            "id": recipient.id,
                            "role": recipient.role,
                            "areas": sorted(directory.codes_of(recipient)),
                        },
                        "parents": [],
                    }
                    for recipient in directory.recipients.values()
                ]
            )
        )

    def decide(
        self,
        notification: Notification,
        view: Mapping[str, Any],
        recipient_ids: Sequence[str],
        *,
        context: str | None = None,
    ) -> list[CedarOutcome]:
        """Cedar's decision for each candidate, in the order given; `context` is `view` as JSON
        when the caller has it already."""
        if notification.type not in self._sets:  # no rule is about this type: deny by default
            return [CedarOutcome(recipient_id, False, ()) for recipient_id in recipient_ids]
        if not recipient_ids:
            return []
        policy_set, by_policy_id = self._sets[notification.type]
        if context is None:
            context = json.dumps(view)  # once for all candidates, not once per request
        requests = [
            {
                "principal": {"type": PRINCIPAL_TYPE, "id": recipient_id},
                "action": {"type": ACTION_TYPE, "id": notification.type},
                "resource": {"type": RESOURCE_TYPE, "id": notification.id},
                "context": context,
            }
            for recipient_id in recipient_ids
        ]
        results = cedarpy.is_authorized_batch(requests, policy_set, self._entities)
        outcomes = []
        for recipient_id, result in zip(recipient_ids, results, strict=True):
            errors = result.diagnostics.errors
            if errors:
                # The compiled policies guard every access, so this is a bug here; a policy that
                # errs is skipped by Cedar, which for a forbid would let a disclosure through.
                raise RuntimeError(f"Cedar could not evaluate the policies: {errors}")
            determining = tuple(
                sorted(
                    (by_policy_id[policy_id] for policy_id in result.diagnostics.reasons),
                    key=lambda policy: policy.rule_id,
                )
            )
            outcomes.append(CedarOutcome(recipient_id, result.allowed, determining))
        return outcomes


def _parse(text: str) -> dict[str, Any]:
    """Cedar's JSON form of policy text, by policy id; ValueError if it does not parse."""
    if not text:
        return {}
    cedarpy.PolicySet.from_str(text)
    parsed: dict[str, Any] = json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"]
    return parsed


def _unparsable(rules: Sequence[SharingRule]) -> list[tuple[SharingRule, str]]:
    """Which rules' Cedar does not parse (only worked out when the whole set does not)."""
    found = []
    for rule in rules:
        try:
            cedarpy.PolicySet.from_str(compile_rule(rule))
        except ValueError as error:
            found.append((rule, f"the rule does not compile to valid Cedar: {error}"))
    return found or [(rules[0], "the compiled policy set does not parse")]
