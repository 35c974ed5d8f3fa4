"""Properties of the Scotland bundle's rules that no single test case shows (issue 14): records
that follow a person carry the identifier an establishment matches on; no rule reads a status
that the profile no longer has (`violent_offender`); every rule says why and under what law."""

from __future__ import annotations

from hub.domain.policy import PolicyBundle
from hub.domain.schemas import SchemaRegistry
from hub.settings import PROJECT_ROOT

EVENTS = PROJECT_ROOT / "events"
BUNDLE = PolicyBundle.load(PROJECT_ROOT / "policies" / "scotland", SchemaRegistry.load(EVENTS))
RULES_DIR = PROJECT_ROOT / "policies" / "scotland" / "rules"


def test_every_record_that_follows_the_person_carries_the_sps_number() -> None:
    following = [rule for rule in BUNDLE.rules if rule.follows_person]

    assert len(following) >= 9
    for rule in following:
        assert "identifiers.sps_number" in rule.fields, rule.id
        assert {s.role for s in rule.share_with} == {"establishment"}, rule.id


def test_no_rule_reads_an_inferred_violent_offender_status() -> None:
    for path in sorted(RULES_DIR.glob("*.yaml")):
        assert "violent_offender" not in path.read_text(encoding="utf-8"), path.name


def test_the_breach_to_recall_loop_reaches_the_licensing_authority() -> None:
    to_ministers = {
        event_type
        for rule in BUNDLE.rules
        if rule.effect == "permit" and any(s.role == "licensing-authority" for s in rule.share_with)
        for event_type in rule.on
    }

    assert {"licence.breach-reported", "parole.decision", "court.disposal"} <= to_ministers


def test_every_rule_has_a_title_a_purpose_and_a_legal_basis() -> None:
    for rule in BUNDLE.rules:
        assert rule.title.strip(), rule.id
        assert (rule.purpose or "").strip(), rule.id
        assert rule.legal_basis is not None, rule.id
        assert rule.legal_basis.gateway, rule.id
