"""The Scotland bundle's legal bases as a DPO reads them (issue 15, "What was found"): every rule
states controller, gateway, regime and lawful basis; the gateways are the ones that apply; the
recipients outside law enforcement receive under the UK GDPR with s36(4) authority; Schedule 8
appears only where a special-category field is granted; identifiers are granted scheme by
scheme; housing disclosures are reviewed. Read from the rule files themselves, so that these
hold whatever the loader makes of them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from hub.domain.policy.categories import CategoryIndex, sensitive_fields
from hub.domain.policy.rules import SchemaIndex
from hub.domain.schemas import SchemaRegistry
from hub.settings import PROJECT_ROOT

RULES_DIR = PROJECT_ROOT / "policies" / "scotland" / "rules"
CATEGORIES = CategoryIndex(SchemaIndex(SchemaRegistry.load(PROJECT_ROOT / "events")))

#: Roles that do not act as competent authorities for a law-enforcement purpose (DPA 2018 s30).
NOT_LAW_ENFORCEMENT = {"child-protection", "housing", "health-board"}
#: Profile conditions that put the person within MAPPA (MOSA 2005 s10(1)), and the MAPPA
#: notices themselves (a referral, a change of level or a deregistration).
WITHIN_MAPPA = (
    {"profile.mappa_level": {"present": True}},
    {"profile.mappa_category": {"present": True}},
    {"profile.orosh": True},
    {"profile.restricted_patient": True},
    {"profile.sex_offender_registered": True},
    {"event.type": {"in": ["mappa.referral", "mappa.level-changed"]}},
)


def _rules() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(RULES_DIR.glob("*.yaml")):
        for rule in yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]:
            # YAML 1.1 reads the key `on` as true.
            rule["on"] = rule.pop(True, None) or rule.get("on")
            yield path.name, rule


RULES = {rule["id"]: rule for _, rule in _rules()}


def _roles(rule: dict[str, Any]) -> set[str]:
    return {item["role"] for item in rule["share_with"]}


def _granted_special(rule: dict[str, Any]) -> set[str]:
    return {
        field
        for event_type in rule["on"]
        for field in sensitive_fields(CATEGORIES, event_type, rule.get("fields") or [])
    }


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_every_rule_states_controller_gateway_regime_and_lawful_basis(rule_id: str) -> None:
    basis = RULES[rule_id]["legal_basis"]

    assert isinstance(basis, dict), "legal_basis is structured, not free text"
    assert basis["controller"]
    assert basis["gateway"]
    assert basis["regime"] in {"dpa2018-part3", "uk-gdpr"}
    assert basis["lawful_basis"] in {"s35(2)(a)", "s35(2)(b)", "art6(1)(c)", "art6(1)(e)"}
    assert basis["agreement"]
    assert basis["dpia"]
    assert RULES[rule_id]["purpose"]


def test_every_rule_of_the_bundle_is_read() -> None:
    assert len(RULES) >= 140
    assert {"health-without-consent-or-justification-forbidden", "recall-to-parole-board"} <= set(
        RULES
    )


def test_no_rule_cites_schedule_1_of_the_1995_act_or_mosa_s11_as_a_gateway() -> None:
    cited = {gateway for rule in RULES.values() for gateway in rule["legal_basis"]["gateway"]}

    assert not {g for g in cited if g.startswith("cpsa") or g.endswith("-s11")}
    assert "mosa-2005-s1" in cited


def test_law_enforcement_sharing_rests_on_s35_2_and_schedule_8_only_on_special_fields() -> None:
    for rule_id, rule in RULES.items():
        basis = rule["legal_basis"]
        if rule.get("effect") == "forbid":
            continue
        special = _granted_special(rule)
        if basis["regime"] == "dpa2018-part3":
            assert basis["lawful_basis"] in {"s35(2)(a)", "s35(2)(b)"}, rule_id
            assert bool(basis.get("sensitive")) == bool(special), (rule_id, sorted(special))
        else:
            assert bool(basis.get("special")) == bool(special), (rule_id, sorted(special))
        if special:
            assert basis.get("policy_document"), rule_id


def test_child_protection_housing_and_health_boards_receive_under_the_uk_gdpr() -> None:
    receiving = [r for r in RULES.values() if _roles(r) & NOT_LAW_ENFORCEMENT]

    assert len(receiving) >= 15
    for rule in receiving:
        basis = rule["legal_basis"]
        assert basis["regime"] == "uk-gdpr", rule["id"]
        assert basis["lawful_basis"] == "art6(1)(e)", rule["id"]
        if basis["controller"] != "health-board" and rule.get("effect") != "forbid":
            # law-enforcement data going to a purpose that is not law enforcement
            assert basis.get("s36_4"), rule["id"]
            assert basis.get("criminal", {}).get("art10"), rule["id"]


def test_mosa_s10_is_cited_only_where_the_rule_requires_the_person_within_mappa() -> None:
    citing = [r for r in RULES.values() if "mosa-2005-s10" in r["legal_basis"]["gateway"]]

    assert len(citing) >= 30
    for rule in citing:
        assert any(c in WITHIN_MAPPA for c in rule.get("when") or []), rule["id"]
    # the on-licence and Schedule 1 rules that fire for people outside MAPPA do not cite it
    for rule_id in (
        "liberation-sex-offender-to-police",
        "licence-breach-public-protection-to-police",
        "custody-admission-to-supervising-social-work",
        "court-disposal-on-licence-to-licensing-authority",
    ):
        assert RULES[rule_id]["legal_basis"]["gateway"][0] == "mosa-2005-s1", rule_id


def test_the_duty_to_co_operate_carries_prison_social_work_police_and_court_sharing() -> None:
    for rule_id in (
        "custody-admission-to-supervising-social-work",
        "custody-admission-to-home-area-police",
        "liberation-to-supervising-social-work",
        "court-disposal-to-supervising-social-work",
        "recall-to-supervising-social-work",
        "person-missing-to-social-work",
    ):
        assert "mosa-2005-s1" in RULES[rule_id]["legal_basis"]["gateway"], rule_id


def test_a_home_detention_curfew_recall_is_not_sent_to_the_parole_board() -> None:
    rule = RULES["recall-to-parole-board"]

    assert {"event.data.statutory_basis": {"in": ["s17(1)(a)", "s17(1)(b)"]}} in rule["when"]


def test_identifiers_are_granted_scheme_by_scheme_and_chi_only_to_health_boards() -> None:
    for rule in RULES.values():
        fields = rule.get("fields") or []
        assert "identifiers" not in fields, rule["id"]
        assert "data" not in fields, rule["id"]
        if "identifiers.chi_number" in fields:
            assert _roles(rule) == {"health-board"}, rule["id"]
    assert "source" in RULES["mappa-referral-to-coordinator"]["fields"]


def test_disclosures_to_housing_are_reviewed_by_the_disclosing_side() -> None:
    to_housing = [r for r in RULES.values() if "housing" in _roles(r)]

    assert len(to_housing) == 4
    for rule in to_housing:
        review = rule["review"]
        assert review["by"] in {"mappa-coordinator", "prison-service"}, rule["id"]
        assert review["escalate_after"], rule["id"]
