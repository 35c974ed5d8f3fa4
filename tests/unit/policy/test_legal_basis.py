"""A rule's legal basis (policies/README.md, "Legal basis"): each combination that cannot be
right is refused at the `file:line` of the rule's basis; a right one loads, reads back from
Cedar as written, and is recorded by the decisions it makes."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.policy import PolicyBundle
from hub.domain.policy.bases import (
    ARTICLE9,
    SCHEDULE8,
    CriminalOffenceData,
    LegalBasis,
    SensitiveProcessing,
    SpecialCategory,
)
from hub.domain.schemas import SchemaRegistry
from hub.errors import PolicyBundleInvalid

from .support import bundle_files, notification, schemas

FILE = "b/rules/extra.yaml"
PART3 = """\
controller: prison-service
gateway: [mosa-2005-s1]
regime: dpa2018-part3
lawful_basis: s35(2)(b)
agreement: dsa-test
dpia: dpia-test
"""
UK_GDPR = """\
controller: prison-service
gateway: [mosa-2005-s1]
regime: uk-gdpr
lawful_basis: art6(1)(e)
criminal: {art10: official-authority}
s36_4: [mosa-2005-s1]
agreement: dsa-test
dpia: dpia-test
"""
SENSITIVE = "sensitive: {condition: s35(5), schedule8: [para-4]}\npolicy_document: apd-test\n"


def rule_file(
    basis: str,
    *,
    on: str = "custody.admission",
    role: str = "social-work",
    fields: str = "[type, data.establishment]",
    when: str = "[]",
    effect: str = "permit",
) -> str:
    body = textwrap.indent(basis, " " * 6)
    grant = f"    fields: {fields}\n" if effect == "permit" else ""
    return (
        "rules:\n"
        "  - id: extra\n"
        "    title: Extra\n"
        f"    effect: {effect}\n"
        f"    on: [{on}]\n"
        f"    when: {when}\n"
        f"    share_with: [{{role: {role}, area: profile.home_area}}]\n"
        f"{grant}"
        "    purpose: P\n"
        f"    legal_basis:\n{body}"
    )


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first line of `text` containing `needle`."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def files_with(changes: Mapping[str, str | None]) -> dict[str, bytes]:
    files = dict(bundle_files())
    for name, text in changes.items():
        if text is None:
            files.pop(name, None)
        else:
            files[name] = text.encode()
    return files


def load(text: str, registry: SchemaRegistry | None = None) -> PolicyBundle:
    files = files_with({"rules/extra.yaml": text})
    return PolicyBundle.from_files(files, registry or schemas(), origin="b")


def problems(text: str, registry: SchemaRegistry | None = None) -> list[str]:
    with pytest.raises(PolicyBundleInvalid) as raised:
        load(text, registry)
    return raised.value.problems


def only(found: list[str]) -> str:
    assert len(found) == 1, found
    return found[0]


# --- what loads -------------------------------------------------------------------------------


def test_a_part3_basis_loads_and_reads_back_from_cedar_as_written() -> None:
    loaded = load(rule_file(PART3))
    rule = next(r for r in loaded.rules if r.id == "extra")
    assert rule.legal_basis == LegalBasis(
        controller="prison-service",
        gateway=("mosa-2005-s1",),
        regime="dpa2018-part3",
        lawful_basis="s35(2)(b)",
        agreement="dsa-test",
        dpia="dpia-test",
    )
    assert loaded._cedar.policies["extra"].legal_basis == rule.legal_basis


def test_a_sensitive_disclosure_with_its_schedule8_condition_and_policy_document_loads() -> None:
    text = rule_file(
        PART3 + SENSITIVE,
        on="health.information-shared",
        role="police-division",
        fields="[type, data.summary]",
    )
    rule = next(r for r in load(text).rules if r.id == "extra")
    assert rule.legal_basis is not None
    assert rule.legal_basis.sensitive == SensitiveProcessing("s35(5)", ("para-4",))


def test_uk_gdpr_to_a_body_that_is_not_a_competent_authority_loads() -> None:
    rule = next(r for r in load(rule_file(UK_GDPR, role="housing")).rules if r.id == "extra")
    assert rule.legal_basis is not None
    assert rule.legal_basis.criminal == CriminalOffenceData("official-authority")


def test_a_gateway_requirement_carried_by_the_rule_loads() -> None:
    text = rule_file(
        PART3.replace("mosa-2005-s1", "mosa-2005-s10"),
        on="mappa.referral",
        when="[{profile.mappa_level: {present: true}}, {event.data.level: {at_least: 2}}]",
        fields="[data.level]",
    )
    assert next(r for r in load(text).rules if r.id == "extra").legal_basis is not None


# --- what the loader refuses, each at file:line -----------------------------------------------


def test_a_legal_basis_in_free_text_is_refused() -> None:
    text = rule_file("").replace("    legal_basis:\n", "    legal_basis: DPA 2018 s35\n")
    assert only(problems(text)).startswith(
        f"{FILE}:{line_of(text, 'legal_basis')}: `legal_basis` of rule extra is a mapping"
    )


def test_unknown_ids_are_refused_where_they_are_cited() -> None:
    text = rule_file(
        PART3.replace("[mosa-2005-s1]", "[cpsa-1995-sch1]")
        .replace("dsa-test", "dsa-nowhere")
        .replace("dpia: dpia-test", "dpia: dsa-test")
    )
    found = problems(text)
    assert f"{FILE}:{line_of(text, 'gateway')}: rule extra: unknown gateway `cpsa-1995-sch1`" in (
        " ".join(found)
    )
    assert any(
        p.startswith(f"{FILE}:{line_of(text, 'agreement')}: rule extra: unknown reference")
        for p in found
    ), found
    assert (
        f"{FILE}:{line_of(text, 'dpia:')}: rule extra: `dpia` names a dpia; `dsa-test` is a "
        "data-sharing-agreement" in found
    )
    assert len(found) == 3, found


def test_a_schedule8_condition_on_a_rule_granting_no_sensitive_field_is_refused() -> None:
    text = rule_file(PART3 + SENSITIVE)
    assert only(problems(text)).startswith(
        f"{FILE}:{line_of(text, 'sensitive')}: rule extra: a Schedule 8 condition on a rule "
        "granting no sensitive field"
    )


def test_sensitive_fields_without_a_sensitive_condition_are_refused() -> None:
    text = rule_file(
        PART3 + "policy_document: apd-test\n",
        on="health.information-shared",
        role="police-division",
        fields="[data.summary]",
    )
    assert only(problems(text)).startswith(
        f"{FILE}:{line_of(text, 'regime')}: rule extra: grants sensitive fields (data.summary): "
        "`sensitive` must give s35(4) consent or s35(5)"
    )


def test_sensitive_fields_without_an_appropriate_policy_document_are_refused() -> None:
    text = rule_file(
        PART3 + "sensitive: {condition: s35(4)}\n",
        on="health.information-shared",
        role="police-division",
        fields="[data.summary]",
    )
    assert only(problems(text)).startswith(
        f"{FILE}:{line_of(text, 'regime')}: rule extra: grants sensitive fields (data.summary) "
        "without `policy_document`"
    )


def test_special_category_fields_under_uk_gdpr_need_art9_and_its_policy_document() -> None:
    text = rule_file(
        UK_GDPR, on="health.information-shared", role="housing", fields="[data.summary]"
    )
    found = problems(text)
    assert len(found) == 2, found
    assert all(p.startswith(f"{FILE}:{line_of(text, 'regime')}: rule extra: ") for p in found)
    assert "`special` must give the Art 9 condition" in found[0] + found[1]
    assert "without `policy_document`" in found[0] + found[1]
    special = "special: {art9: 9(2)(g), schedule1: [part2-para-18]}\npolicy_document: apd-test\n"
    assert load(
        rule_file(
            UK_GDPR + special,
            on="health.information-shared",
            role="housing",
            fields="[data.summary]",
        )
    )


def test_part3_to_a_role_that_is_not_a_competent_authority_is_refused() -> None:
    text = rule_file(PART3, role="child-protection")
    assert only(problems(text)) == (
        f"{FILE}:{line_of(text, 'regime')}: rule extra: dpa2018-part3 to `child-protection`, "
        "which legal.yaml does not list among the competent authorities (DPA 2018 s30, Sch 7): "
        "a recipient not acting for a law-enforcement purpose receives under uk-gdpr"
    )


def test_uk_gdpr_from_law_enforcement_data_without_s36_4_is_refused() -> None:
    text = rule_file(
        UK_GDPR.replace("s36_4: [mosa-2005-s1]\n", "").replace(
            "criminal: {art10: official-authority}\n", ""
        ),
        role="housing",
    )
    found = problems(text)
    assert len(found) == 2, found
    assert any(
        p.startswith(
            f"{FILE}:{line_of(text, 'regime')}: rule extra: uk-gdpr from "
            "law-enforcement data (`prison-service` is a competent authority): "
            "`s36_4` must name"
        )
        for p in found
    ), found
    assert any("`criminal` must give its Art 10 authority" in p for p in found), found


def test_uk_gdpr_from_a_body_outside_law_enforcement_needs_no_s36_4() -> None:
    basis = UK_GDPR.replace("prison-service", "housing").replace("s36_4: [mosa-2005-s1]\n", "")
    assert load(rule_file(basis, role="child-protection"))


def test_a_gateway_whose_requirement_the_rule_does_not_carry_is_refused() -> None:
    text = rule_file(
        PART3.replace("mosa-2005-s1", "mosa-2005-s10"),
        on="mappa.referral",
        when="[{event.data.level: {at_least: 2}}]",
        fields="[data.level]",
    )
    assert only(problems(text)) == (
        f"{FILE}:{line_of(text, 'gateway')}: rule extra: gateway `mosa-2005-s10` (Management "
        "of Offenders etc. (Scotland) Act 2005 s10 (MAPPA)) applies only where "
        "profile.mappa_level has a value: the rule's `when` must carry that condition (it has: "
        "event.data.level is at least 2)"
    )


@pytest.mark.parametrize(
    ("change", "needle", "message"),
    [
        (
            ("s35(2)(b)", "art6(1)(e)"),
            "lawful_basis",
            "`lawful_basis` of the legal basis of rule extra (dpa2018-part3) is one of "
            "s35(2)(a), s35(2)(b)",
        ),
        (
            ("regime: dpa2018-part3", "regime: gdpr"),
            "regime",
            "`regime` of the legal basis of rule extra is one of dpa2018-part3, uk-gdpr",
        ),
        (
            ("dpia: dpia-test\n", "dpia: dpia-test\nsensitive: {condition: s35(5)}\n"),
            "sensitive",
            "s35(5) (strictly necessary) needs the Schedule 8 condition it meets",
        ),
        (
            (
                "dpia: dpia-test\n",
                "dpia: dpia-test\nsensitive: {condition: s35(4), schedule8: [para-1]}\n",
            ),
            "sensitive",
            "s35(4) is consent: Schedule 8 conditions belong to s35(5)",
        ),
        (
            (
                "dpia: dpia-test\n",
                "dpia: dpia-test\nsensitive: {condition: s35(5), schedule8: [para-10]}\n",
            ),
            "sensitive",
            "`para-10` in `schedule8` of `sensitive` is not a valid entry",
        ),
        (
            (
                "dpia: dpia-test\n",
                "dpia: dpia-test\nspecial: {art9: 9(2)(g), schedule1: [part2-para-18]}\n",
            ),
            "special:",
            "`special` (UK GDPR Art 9) belongs to uk-gdpr",
        ),
        (
            ("dpia: dpia-test\n", "dpia: dpia-test\ncriminal: {art10: official-authority}\n"),
            "criminal:",
            "`criminal` (UK GDPR Art 10) belongs to uk-gdpr",
        ),
        (
            ("dpia: dpia-test\n", "dpia: dpia-test\ns36_4: [mosa-2005-s1]\n"),
            "s36_4",
            "`s36_4` authorises law-enforcement data for a purpose that is not law enforcement",
        ),
        (
            ("agreement: dsa-test\n", ""),
            "legal_basis",
            "the legal basis of rule extra has no `agreement`",
        ),
        (
            ("dpia: dpia-test\n", "dpia: dpia-test\nschedule8: [para-1]\n"),
            "schedule8",
            "unknown key `schedule8` in the legal basis of rule extra",
        ),
    ],
)
def test_the_statutory_vocabulary_is_checked(
    change: tuple[str, str], needle: str, message: str
) -> None:
    text = rule_file(PART3.replace(*change))
    found = only(problems(text))
    line = line_of(text, needle) if needle != "legal_basis" else line_of(text, "controller")
    assert found.startswith(f"{FILE}:{line}: "), found
    assert message in found, found


@pytest.mark.parametrize(
    ("special", "message"),
    [
        ("{art9: 9(2)(g)}", "Art 9(2)(g) needs its DPA 2018 Schedule 1 condition"),
        ("{art9: 9(2)(g), schedule1: [part1-para-2]}", "its Schedule 1 condition is in Part 2"),
        ("{art9: 9(2)(h), schedule1: [part1-para-9]}", "DPA 2018 Schedule 1 has no part1-para-9"),
        ("{art9: 9(3)}", "`art9` of `special` is one of 9(2)(a)"),
    ],
)
def test_art9_conditions_carry_the_schedule1_condition_they_need(
    special: str, message: str
) -> None:
    text = rule_file(UK_GDPR + f"special: {special}\n", role="housing")
    found = only(problems(text))
    assert found.startswith(f"{FILE}:{line_of(text, 'special')}: "), found
    assert message in found, found


def test_a_forbid_rule_states_the_purpose_and_basis_of_its_refusal() -> None:
    text = rule_file(PART3, effect="forbid")
    assert load(text)
    missing = text[: text.index("    purpose:")]
    assert problems(missing) == [
        f"{FILE}:2: forbid rule extra has no `legal_basis`",
        f"{FILE}:2: forbid rule extra has no `purpose`",
    ]
    refusal = "controller: health-board\ngateway: [dpa-2018-s36]\nregime: dpa2018-part3\n"
    assert load(rule_file(refusal, effect="forbid", role="child-protection"))
    unknown = rule_file(refusal.replace("dpa-2018-s36", "nowhere"), effect="forbid")
    assert only(problems(unknown)).startswith(
        f"{FILE}:{line_of(unknown, 'gateway')}: rule extra: unknown gateway `nowhere`"
    )


# --- legal.yaml -------------------------------------------------------------------------------


def test_legal_yaml_is_required_and_checked() -> None:
    with pytest.raises(PolicyBundleInvalid) as raised:
        PolicyBundle.from_files(files_with({"legal.yaml": None}), schemas(), origin="b")
    assert raised.value.problems == ["b/legal.yaml:1: missing: every bundle has this file"]

    legal = bundle_files()["legal.yaml"].decode()
    broken = (
        legal.replace("  - role: parole-board\n", "  - role: parole-boards\n")
        .replace("kind: dpia\n", "kind: impact-assessment\n")
        .replace("  - id: mosa-2005-s10\n", "  - id: mosa-2005-s1\n")
        .replace("profile.mappa_level: {present: true}", "event.data.level: {present: true}")
    )
    with pytest.raises(PolicyBundleInvalid) as raised:
        PolicyBundle.from_files(files_with({"legal.yaml": broken}), schemas(), origin="b")
    found = raised.value.problems
    assert f"b/legal.yaml:{line_of(broken, 'parole-boards')}: unknown role `parole-boards`" in (
        " ".join(found)
    )
    assert any("`kind` of reference dpia-test is one of" in p for p in found), found
    assert any("a gateway `mosa-2005-s1` is already declared on line" in p for p in found), found
    assert any("a gateway `requires` conditions on the person's profile" in p for p in found)


# --- the basis in decisions -------------------------------------------------------------------


def test_a_disclosure_records_each_matching_rule_s_citation() -> None:
    loaded = load(rule_file(PART3, role="social-work"))
    admission = notification("custody.admission")
    evaluation = loaded.evaluate(admission, {"home_area": "S12000049"})
    (to_glasgow,) = [d for d in evaluation.permitted if d.recipient_id == "sw-glasgow-city"]
    assert to_glasgow.legal_bases == (
        "extra: prison-service under mosa-2005-s1; dpa2018-part3 s35(2)(b); agreement "
        "dsa-test; dpia dpia-test",
    )


def test_a_denial_by_a_forbid_rule_records_its_purpose_and_basis() -> None:
    refusal = "controller: prison-service\ngateway: [dpa-2018-s36]\nregime: dpa2018-part3\n"
    loaded = load(rule_file(refusal, effect="forbid", role="social-work"))
    admission = notification("custody.admission")
    evaluation = loaded.evaluate(admission, {"home_area": "S12000049"})
    (denied,) = [d for d in evaluation.denied if d.recipient_id == "sw-glasgow-city"]
    assert denied.purposes == ("P",)
    assert denied.legal_bases == ("extra: prison-service under dpa-2018-s36; dpa2018-part3",)
    explained = loaded.explain(admission, {"home_area": "S12000049"})
    (candidate,) = [c for c in explained["candidates"] if c["recipient"] == "sw-glasgow-city"]
    assert candidate["purposes"] == ["P"]
    (basis,) = candidate["bases"]
    assert basis["rule"] == "extra"
    assert basis["gateway"][0]["statute"] == "Data Protection Act 2018"
    (rule,) = [r for r in explained["rules"] if r["id"] == "extra"]
    assert rule["legal_basis"]["regime"] == "dpa2018-part3"


# --- the basis as Cedar carries it ------------------------------------------------------------

_ids = st.sampled_from(["mosa-2005-s1", "mosa-2005-s10", "dpa-2018-s36", "x"])


@st.composite
def legal_bases(draw: st.DrawFn) -> LegalBasis:
    regime = draw(st.sampled_from(["dpa2018-part3", "uk-gdpr"]))
    part3 = regime == "dpa2018-part3"
    return LegalBasis(
        controller=draw(st.sampled_from(["prison-service", "health-board"])),
        gateway=tuple(draw(st.lists(_ids, min_size=1, max_size=3, unique=True))),
        regime=regime,
        lawful_basis=draw(st.none() | st.sampled_from(["s35(2)(b)", "art6(1)(e)"])),
        sensitive=draw(
            st.none()
            | st.builds(
                SensitiveProcessing,
                st.just("s35(5)"),
                st.lists(st.sampled_from(SCHEDULE8), unique=True).map(tuple),
            )
        )
        if part3
        else None,
        special=draw(
            st.none()
            | st.builds(SpecialCategory, st.sampled_from(ARTICLE9), st.just(("part2-para-18",)))
        )
        if not part3
        else None,
        criminal=draw(st.none() | st.just(CriminalOffenceData("schedule1", ("part2-para-10",)))),
        s36_4=tuple(draw(st.lists(_ids, max_size=2, unique=True))),
        agreement=draw(st.none() | st.just("dsa-x")),
        dpia=draw(st.none() | st.just("dpia-x")),
        policy_document=draw(st.none() | st.just("apd-x")),
    )


@given(legal_bases())
def test_a_basis_reads_back_from_its_canonical_json(basis: LegalBasis) -> None:
    text = basis.to_json()
    assert LegalBasis.from_json(text) == basis
    assert json.loads(text) == basis.as_json()
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


# --- the basis and the special-category guard -------------------------------------------------


@pytest.mark.parametrize(
    ("sensitive", "consent", "summary_disclosed"),
    [
        ("{condition: s35(4)}", True, True),
        # s35(4) is consent: without it the basis justifies nothing, and the guard withholds.
        ("{condition: s35(4)}", False, False),
        ("{condition: s35(5), schedule8: [para-4]}", False, True),
    ],
)
def test_only_a_justification_that_needs_no_consent_passes_the_guard_without_it(
    sensitive: str, consent: bool, summary_disclosed: bool
) -> None:
    basis = PART3 + f"sensitive: {sensitive}\npolicy_document: apd-test\n"
    loaded = load(
        rule_file(
            basis,
            on="health.information-shared",
            role="police-division",
            fields="[type, data.summary]",
        )
    )
    shared = notification("health.information-shared", data__consent__given=consent)
    evaluation = loaded.evaluate(shared, {"home_area": "S12000049", "health_consent": consent})
    (decision,) = [d for d in evaluation.decisions if "extra" in d.rules]
    assert ("data.summary" in decision.fields) is summary_disclosed
