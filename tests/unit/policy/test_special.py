"""The special-category guard, the loader's category checks, and the "What was found" bullets of
issue 15 they answer."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.policy import PolicyBundle
from hub.domain.policy.categories import CategoryIndex, special_values
from hub.domain.policy.redaction import envelope, leaf_paths, redact
from hub.domain.policy.rules import SchemaIndex
from hub.domain.policy.special import Grant, guard
from hub.errors import PolicyBundleInvalid
from hub.settings import PROJECT_ROOT

from .support import bundle_files, example, notification, schemas


@cache
def index() -> CategoryIndex:
    return CategoryIndex(SchemaIndex(schemas()))


@cache
def scotland() -> PolicyBundle:
    return PolicyBundle.load(PROJECT_ROOT / "policies" / "scotland", schemas())


def _rule(rule_id: str) -> Any:
    return next(r for r in scotland().rules if r.id == rule_id)


def _with_rule(text: str) -> dict[str, bytes]:
    files = dict(bundle_files())
    files["rules/extra.yaml"] = text.encode()
    return files


def _problems(text: str) -> list[str]:
    with pytest.raises(PolicyBundleInvalid) as raised:
        PolicyBundle.from_files(_with_rule(text), schemas(), origin="b")
    return raised.value.problems


def _permit(on: str, role: str, fields: str) -> str:
    return f"""rules:
  - id: extra
    title: A newly written rule
    on: [{on}]
    share_with:
      - role: {role}
    fields: [{fields}]
    purpose: p
    legal_basis: {_BASIS_UK_GDPR if role in ("health-board", "housing") else _BASIS_PART3}
"""


_BASIS_PART3 = (
    "{controller: prison-service, gateway: [mosa-2005-s1], regime: dpa2018-part3, "
    "lawful_basis: s35(2)(b), agreement: dsa-test, dpia: dpia-test}"
)
_BASIS_UK_GDPR = (
    "{controller: prison-service, gateway: [mosa-2005-s1], regime: uk-gdpr, "
    "lawful_basis: art6(1)(e), criminal: {art10: official-authority}, s36_4: [mosa-2005-s1], "
    "agreement: dsa-test, dpia: dpia-test}"
)


PSYCHIATRIC = {"type": "psychiatric-assessment-or-treatment", "detail": "attend the CMHT weekly"}


# --- the found bullets ------------------------------------------------------------------------


def test_licence_conditions_with_a_psychiatric_condition_do_not_reach_child_protection() -> None:
    rule = _rule("liberation-schedule1-to-child-protection")
    # The Scotland rule no longer grants the conditions at all; the guard holds even for a rule
    # that did, without a justification.
    assert "data.licence.conditions" not in rule.fields
    liberation = notification(
        "custody.liberation", data__licence__conditions=[{"type": "curfew"}, PSYCHIATRIC]
    )
    guarded = guard(
        index(),
        "custody.liberation",
        envelope(liberation),
        [Grant(rule.id, (*rule.fields, "data.licence.conditions"), justified=False)],
        health_consent=False,
    )
    received = redact(envelope(liberation), guarded.fields)
    assert "conditions" not in received["data"].get("licence", {})
    assert "data.licence.conditions.type (health)" in guarded.withheld
    assert "data.release_address" in guarded.fields


def test_a_health_boards_risk_assessment_text_does_not_reach_police_through_a_risk_rule() -> None:
    rule = _rule("risk-assessment-sex-offender-to-police")
    # The Scotland rule no longer grants the summary to police; the guard holds even for a rule
    # that did, without a justification.
    assert "data.summary" not in rule.fields
    fields = (*rule.fields, "data.summary")
    by_nhs = envelope(
        notification(
            "risk.assessment-recorded",
            source="urn:pph:nhs:nhs-greater-glasgow-and-clyde:forensic-mental-health",
            data__summary="Diagnosed with paranoid schizophrenia; relapse raises the risk.",
        )
    )
    by_police = envelope(notification("risk.assessment-recorded"))
    grants = [Grant(rule.id, fields, justified=False)]
    from_nhs = guard(index(), "risk.assessment-recorded", by_nhs, grants, health_consent=False)
    assert "summary" not in redact(by_nhs, from_nhs.fields)["data"]
    assert from_nhs.withheld == ("data.summary (health)",)
    from_police = guard(
        index(), "risk.assessment-recorded", by_police, grants, health_consent=False
    )
    assert "summary" in redact(by_police, from_police.fields)["data"]


def test_a_new_rule_granting_health_fields_with_consent_refused_gets_nothing() -> None:
    # p15-basis: a rule granting fields that always hold health data without a recorded
    # justification (`sensitive`, with its policy document) does not even load.
    problems = _problems(
        _permit("health.information-shared", "police-division", "type, data.summary, data.category")
    )
    assert any("grants sensitive fields (data.category, data.summary)" in p for p in problems)


def test_a_mappa_coordinator_does_not_receive_a_restricted_patients_chi_number() -> None:
    problems = _problems(_permit("mappa.referral", "mappa-coordinator", "identifiers.chi_number"))
    assert any(
        p.startswith("b/rules/extra.yaml:7:") and "only to health-board" in p for p in problems
    )
    rule = _rule("mappa-referral-to-coordinator")
    assert "identifiers.chi_number" not in rule.fields
    assert "identifiers" not in rule.fields


# --- the loader -------------------------------------------------------------------------------


def test_identifiers_granted_whole_are_refused() -> None:
    problems = _problems(_permit("custody.admission", "social-work", "identifiers"))
    assert any(p.startswith("b/rules/extra.yaml:7:") and "scheme" in p for p in problems)


def test_a_whole_object_holding_a_value_dependent_health_field_is_refused() -> None:
    problems = _problems(_permit("custody.liberation", "social-work", "data.licence"))
    assert any(
        p.startswith("b/rules/extra.yaml:7:") and "data.licence.conditions.type" in p
        for p in problems
    )


def test_the_chi_number_may_go_to_a_health_board_and_conditions_item_by_item() -> None:
    fields = "identifiers.chi_number, data.licence.conditions, data.licence.expiry_date"
    PolicyBundle.from_files(
        _with_rule(_permit("custody.liberation", "health-board", fields)), schemas(), origin="b"
    )


def test_source_can_be_granted() -> None:
    policy = PolicyBundle.from_files(
        _with_rule(_permit("mappa.referral", "mappa-coordinator", "source, data.level")),
        schemas(),
        origin="b",
    )
    referral = notification("mappa.referral")
    evaluation = policy.evaluate(referral, {})
    (decision,) = [d for d in evaluation.decisions if d.recipient_id == "mappa-glasgow"]
    assert decision.permitted
    assert policy.redact(referral, decision.fields)["source"] == referral.source


# --- the property -----------------------------------------------------------------------------

_TYPES = ("custody.liberation", "licence.varied", "risk.assessment-recorded", "mappa.referral")
_SOURCES = (
    "urn:pph:nhs:nhs-lothian:forensic",
    "urn:pph:police-scotland:visor",
    "urn:pph:sps:pr2:x",
)
_CONDITION_TYPES = (
    "curfew",
    "psychiatric-assessment-or-treatment",
    "substance-use-testing-or-treatment",
)


@st.composite
def _notifications(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    event_type = draw(st.sampled_from(_TYPES))
    conditions = [
        {"type": t, "detail": "d"}
        for t in draw(st.lists(st.sampled_from(_CONDITION_TYPES), min_size=1, max_size=3))
    ]
    changes: dict[str, Any] = {"source": draw(st.sampled_from(_SOURCES))}
    if event_type == "custody.liberation":
        changes["data__licence__conditions"] = conditions
    elif event_type == "licence.varied":
        changes["data__conditions_added"] = conditions
    elif event_type == "mappa.referral" and draw(st.booleans()):
        changes.update(data__category="s10(1)(c)", data__category_group="restricted-patient")
    return event_type, envelope(notification(event_type, **changes))


def _paths(event_type: str) -> list[str]:
    found = set(index().annotated(event_type))
    found.update(leaf_paths(example(event_type)))
    found.update(p.rpartition(".")[0] for p in list(found) if "." in p)
    return sorted(p for p in found if p)


@settings(max_examples=200, deadline=None)
@given(_notifications(), st.data(), st.booleans())
def test_no_special_category_value_reaches_a_recipient_without_consent_or_justification(
    generated: tuple[str, dict[str, Any]], data: st.DataObject, consent: bool
) -> None:
    event_type, document = generated
    paths = _paths(event_type)
    grants = [
        Grant(f"r{i}", tuple(data.draw(st.lists(st.sampled_from(paths), max_size=6))), justified)
        for i, justified in enumerate(data.draw(st.lists(st.booleans(), min_size=1, max_size=3)))
    ]
    guarded = guard(index(), event_type, document, grants, health_consent=consent)
    received = redact(document, guarded.fields)
    special = special_values(index(), event_type, document)
    for path in leaf_paths(received):
        categories = special.get(path, frozenset())
        if not categories:
            continue
        consented = consent and categories <= {"health"}
        justified = any(g.justified and any(_covers(f, path) for f in g.fields) for g in grants)
        assert consented or justified, (path, categories)
    # and nothing is withheld that consent or a justification covered
    for withheld in guarded.withheld:
        path = withheld.split(" ")[0]
        assert not any(g.justified and any(_covers(f, path) for f in g.fields) for g in grants)
        assert not (consent and special[path] <= {"health"})


def _covers(granted: str, path: str) -> bool:
    return path == granted or path.startswith(granted + ".")


def _leaves(event_type: str, path: str) -> list[str]:
    children = index().children(event_type, path)
    return [path] if not children else [leaf for c in children for leaf in _leaves(event_type, c)]


@settings(max_examples=25, deadline=None)
@given(_notifications(), st.data(), st.booleans())
def test_a_generated_bundle_discloses_no_special_category_value_without_consent(
    generated: tuple[str, dict[str, Any]], data: st.DataObject, consent: bool
) -> None:
    """A newly written rule, granting any fields, through the whole engine: its basis is free
    text (records no justification), so only recorded health consent lets health data out."""
    event_type, document = generated
    leaves = ["type", "time", "source", *_leaves(event_type, "data")]
    fields = data.draw(st.lists(st.sampled_from(leaves), min_size=1, max_size=8, unique=True))
    policy = PolicyBundle.from_files(
        _with_rule(_permit(event_type, "police-division", ", ".join(fields))), schemas(), origin="b"
    )
    sent = schemas().validate(document)
    special = special_values(index(), event_type, document)
    for decision in policy.evaluate(sent, {"health_consent": consent}).decisions:
        received = policy.redact(sent, decision.fields)
        for path in leaf_paths(received):
            categories = special.get(path, frozenset())
            assert not categories or (consent and categories <= {"health"}), (path, categories)
        if decision.special_withheld:
            assert not consent or any("health" not in w for w in decision.special_withheld)
