"""Rules compiled to Cedar: one annotated policy per rule, parsed once, read back as written."""

from __future__ import annotations

import json

import cedarpy
import pytest

from hub.domain.policy import PolicyBundle
from hub.domain.policy.bases import LegalBasis
from hub.domain.policy.cedar import CedarPolicies, cedar_string, compile_rule
from hub.domain.policy.conditions import Compare, ValuePath
from hub.errors import PolicyBundleInvalid

from .support import bundle, bundle_files, notification, one_recipient_directory, rule_with, schemas


def test_each_rule_is_one_policy_with_its_terms_as_annotations() -> None:
    rule = next(r for r in bundle().rules if r.id == "schedule1-release-to-social-work")
    text = compile_rule(rule)
    assert text.startswith('@id("schedule1-release-to-social-work")\n')
    assert '@fields("data.release.address, data.release.expected_date, ' in text
    assert '@acknowledge_within("2d")' in text
    # The legal basis rides as canonical JSON and reads back as the rule states it.
    assert rule.legal_basis is not None
    assert f"@legal_basis({cedar_string(rule.legal_basis.to_json())})" in text
    (policy,) = json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"].values()
    assert LegalBasis.from_json(policy["annotations"]["legal_basis"]) == rule.legal_basis
    assert (
        'permit (principal is Recipient, action in [Action::"release.schedule1-notification"], '
        "resource is Notification)"
    ) in text
    # Every step of a path is guarded, so a missing value is false, never an error.
    assert (
        'context["event"] has "data" && context["event"]["data"] has "release" && '
        'context["event"]["data"]["release"] has "type" && '
        '["possible", "planned"].contains(context["event"]["data"]["release"]["type"])'
    ) in text
    assert "principal.areas.contains(" in text
    assert len(json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"]) == 1


def test_the_policy_set_is_parsed_once_and_reads_back_as_the_rules() -> None:
    cedar = bundle()._cedar
    assert sorted(cedar.policies) == sorted(r.id for r in bundle().rules)
    for rule in bundle().rules:
        assert cedar.policies[rule.id].agrees_with(rule)
    # One set per event type, of the rules on that type; a rule on two types is in both.
    assert sorted(cedar._sets) == [
        "custody.admission",
        "licence.recall",
        "mappa.referral",
        "release.schedule1-notification",
    ]
    for event_type, (policy_set, by_policy_id) in cedar._sets.items():
        assert isinstance(policy_set, cedarpy.PolicySet)
        assert sorted(p.rule_id for p in by_policy_id.values()) == sorted(
            r.id for r in bundle().rules if event_type in r.on
        )


@pytest.mark.parametrize("text", ["plain", 'quo"te', "back\\slash", "new\nline\t", "é—ü", "\x00"])
def test_strings_survive_the_trip_through_cedar(text: str) -> None:
    condition = Compare(ValuePath.parse("event.data.a"), "equals", text)
    cedar = CedarPolicies([rule_with((condition,))], one_recipient_directory())
    view = {"event": {"data": {"a": text}}, "profile": {}}
    (outcome,) = cedar.decide(notification("custody.admission"), view, ["sw"])
    assert outcome.allowed


def test_a_cedar_evaluation_error_is_raised_not_skipped() -> None:
    # A view the decision-view builder would never make: a number Cedar cannot hold.
    cedar = CedarPolicies([rule_with(())], one_recipient_directory())
    with pytest.raises(RuntimeError, match="Cedar could not evaluate"):
        cedar.decide(notification("custody.admission"), {"event": {"x": 1.5}}, ["sw"])


def test_text_cedar_cannot_parse_is_a_load_problem_at_the_rule() -> None:
    rules = bundle_files()["rules/mappa.yaml"].decode()
    rules = rules.replace(
        "title: MAPPA referrals on people not in the community — Parole Board",
        'title: "Parole Board \\ud800"',
    )
    with pytest.raises(PolicyBundleInvalid) as raised:
        PolicyBundle.from_files(
            {**bundle_files(), "rules/mappa.yaml": rules.encode()}, schemas(), origin="b"
        )
    (problem,) = raised.value.problems
    assert problem.startswith("b/rules/mappa.yaml:22: the rule does not compile to valid Cedar")


def test_cedar_string_escapes_quotes_backslashes_and_control_characters() -> None:
    assert cedar_string('a"b\\c\nd') == '"a\\"b\\\\c\\u{a}d"'
