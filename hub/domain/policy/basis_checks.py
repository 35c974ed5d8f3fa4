"""The checks of each rule's legal basis that need the rest of the bundle: the ids it cites in
`legal.yaml`, the fields it grants, the recipients it names, and the conditions it carries.
Each refusal is reported at the `file:line` of the rule's basis (policies/README.md, "Legal
basis": what the loader refuses and why)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from hub.domain.policy.bases import LegalBasis
from hub.domain.policy.categories import SPECIAL, CategoryIndex, sensitive_fields
from hub.domain.policy.conditions import AnyOf, Condition, describe
from hub.domain.policy.directory import ROLES
from hub.domain.policy.legal import Gateway, LegalRegister, ReferenceKind
from hub.domain.policy.rules import Problems, SharingRule

#: Which of the fields granted on an event type are special-category (sensitive) data.
SensitiveFields = Callable[[str, Sequence[str]], frozenset[str]]


@dataclass(frozen=True, slots=True)
class Sensitivity:
    """Two answers about granted fields: which always hold special-category data (a basis must
    justify them), and which may, by their value or their source (a basis may justify them; if
    it does not, the engine's guard withholds such values, `special.guard`)."""

    always: SensitiveFields
    possible: SensitiveFields


def sensitivity(index: CategoryIndex) -> Sensitivity:
    """The sensitivity of granted fields as the schemas' category annotations give it."""

    def always(event_type: str, fields: Iterable[str]) -> frozenset[str]:
        return frozenset(
            granted
            for granted in fields
            if index.categories(event_type, granted).always & SPECIAL
            or any(f.always & SPECIAL for f in index.within(event_type, granted).values())
        )

    def possible(event_type: str, fields: Iterable[str]) -> frozenset[str]:
        return sensitive_fields(index, event_type, fields)

    return Sensitivity(always, possible)


_REFERENCE_KEYS: tuple[tuple[str, ReferenceKind], ...] = (
    ("agreement", "data-sharing-agreement"),
    ("dpia", "dpia"),
    ("policy_document", "appropriate-policy-document"),
)


def check_bases(
    rules: Sequence[SharingRule],
    register: LegalRegister,
    fields: Sensitivity,
    problems: Problems,
) -> None:
    """Add a problem for every rule whose legal basis cannot be right."""
    for rule in rules:
        if rule.legal_basis is not None:
            _Check(rule, rule.legal_basis, register, problems).run(fields)


class _Check:
    def __init__(
        self, rule: SharingRule, basis: LegalBasis, register: LegalRegister, problems: Problems
    ) -> None:
        self.rule, self.basis, self.register, self.problems = rule, basis, register, problems

    def add(self, key: str, message: str) -> None:
        self.problems.add(
            self.rule.file, self.basis.line_of(key), f"rule {self.rule.id}: {message}"
        )

    def run(self, fields: Sensitivity) -> None:
        self.ids()
        if self.rule.effect == "forbid":
            return  # a refusal grants nothing: what follows is about what is disclosed, to whom
        always, possible = (
            sorted({f for t in self.rule.on for f in find(t, self.rule.fields)})
            for find in (fields.always, fields.possible)
        )
        self.sensitive(always, possible)
        self.recipients()
        self.law_enforcement_data()
        for gateway_id in self.basis.gateway:
            gateway = self.register.gateways.get(gateway_id)
            if gateway is not None:
                self.requirements(gateway)

    def ids(self) -> None:
        basis, register = self.basis, self.register
        if basis.controller not in ROLES:
            self.add(
                "controller",
                f"`controller` is the disclosing role; `{basis.controller}` is not one of "
                f"{', '.join(ROLES)}",
            )
        for key, ids in (("gateway", basis.gateway), ("s36_4", basis.s36_4)):
            for gateway_id in ids:
                if gateway_id not in register.gateways:
                    self.add(key, f"unknown gateway `{gateway_id}`; {_known(register.gateways)}")
        for key, kind in _REFERENCE_KEYS:
            reference_id = getattr(basis, key)
            if reference_id is None:
                continue
            reference = register.references.get(reference_id)
            if reference is None:
                self.add(key, f"unknown reference `{reference_id}`; {_known(register.references)}")
            elif reference.kind != kind:
                self.add(key, f"`{key}` names a {kind}; `{reference_id}` is a {reference.kind}")

    def sensitive(self, granted: Sequence[str], possible: Sequence[str]) -> None:
        """`granted`: fields that always hold special-category data; `possible`: those that
        may (a justification is then optional: without one the guard withholds the values)."""
        basis = self.basis
        listed = ", ".join(granted)
        if basis.regime == "dpa2018-part3":
            if basis.sensitive is not None and not possible:
                what = "a Schedule 8 condition" if basis.sensitive.schedule8 else "`sensitive`"
                self.add(
                    "sensitive",
                    f"{what} on a rule granting no sensitive field: ordinary law-enforcement "
                    "sharing rests on s35(2) alone; Schedule 8 belongs to sensitive processing "
                    "(s35(3)-(5))",
                )
            if granted and basis.sensitive is None:
                self.add(
                    "regime",
                    f"grants sensitive fields ({listed}): `sensitive` must give s35(4) consent "
                    "or s35(5) strict necessity with its Schedule 8 condition",
                )
        else:
            if basis.special is not None and not possible:
                self.add(
                    "special", "`special` (Art 9) on a rule granting no special-category field"
                )
            if granted and basis.special is None:
                self.add(
                    "regime",
                    f"grants special-category fields ({listed}): `special` must give the Art 9 "
                    "condition and its Schedule 1 condition",
                )
        justified = basis.sensitive or basis.special
        if (granted or (justified and possible)) and basis.policy_document is None:
            self.add(
                "regime",
                f"grants sensitive fields ({listed or ', '.join(possible)}) without "
                "`policy_document`: sensitive processing needs an appropriate policy document "
                "(DPA 2018 s42; Sch 1 Part 4)",
            )

    def recipients(self) -> None:
        if self.basis.regime != "dpa2018-part3":
            return
        roles = dict.fromkeys(s.role for s in self.rule.share_with)
        if self.rule.follows_person:
            roles["establishment"] = None
        for role in roles:
            if role not in self.register.competent_authorities:
                self.add(
                    "regime",
                    f"dpa2018-part3 to `{role}`, which legal.yaml does not list among the "
                    "competent authorities (DPA 2018 s30, Sch 7): a recipient not acting for a "
                    "law-enforcement purpose receives under uk-gdpr",
                )

    def law_enforcement_data(self) -> None:
        basis = self.basis
        if basis.regime != "uk-gdpr" or basis.controller not in self.register.competent_authorities:
            return
        if not basis.s36_4:
            self.add(
                "regime",
                f"uk-gdpr from law-enforcement data (`{basis.controller}` is a competent "
                "authority): `s36_4` must name the gateway that authorises processing it for a "
                "purpose that is not law enforcement (DPA 2018 s36(4))",
            )
        if basis.criminal is None:
            self.add(
                "regime",
                "uk-gdpr from law-enforcement data is criminal-offence data: `criminal` must give "
                "its Art 10 authority (official-authority, or schedule1 with the condition)",
            )

    def requirements(self, gateway: Gateway) -> None:
        carried = [describe(c) for c in self.rule.when]
        for required in gateway.requires:
            if not any(_implies(c, required) for c in self.rule.when):
                self.add(
                    "gateway",
                    f"gateway `{gateway.id}` ({gateway.statute} {gateway.provision}) applies only "
                    f"where {describe(required)}: the rule's `when` must carry that condition"
                    + (f" (it has: {'; '.join(carried)})" if carried else " (it has none)"),
                )


def _implies(condition: Condition, required: Condition) -> bool:
    """Whether a top-level condition of a rule is (or narrows) a gateway's required condition:
    the same condition, one of the alternatives of a required `any`, or an `any` of some of
    them. Deliberately syntactic: a rule that means the same in other words must say it so."""
    text = describe(condition)
    if text == describe(required):
        return True
    if isinstance(required, AnyOf):
        alternatives = {describe(c) for c in required.conditions}
        if text in alternatives:
            return True
        if isinstance(condition, AnyOf):
            return all(describe(c) in alternatives for c in condition.conditions)
    return False


def _known(ids: Mapping[str, object]) -> str:
    listed = ", ".join(sorted(ids))
    return f"legal.yaml declares: {listed}" if listed else "legal.yaml declares none"
