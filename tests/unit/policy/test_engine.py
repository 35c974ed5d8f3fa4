"""Decisions: candidates from `share_with`, deny by default, forbid over permit, fields as the
union of the matching permit rules, records that follow the person, and explanations."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from hub.domain.policy import Evaluation, RecipientDecision

from .support import bundle, notification, unchecked

SCHEDULE1 = {"schedule1": True}


def decisions(evaluation: Evaluation) -> dict[str, RecipientDecision]:
    return {d.recipient_id: d for d in evaluation.decisions}


def test_candidates_are_the_recipients_the_rules_name_sorted_and_decided_once() -> None:
    evaluation = bundle().evaluate(notification("release.schedule1-notification"), SCHEDULE1)
    assert evaluation.policy_version == bundle().version
    assert [d.recipient_id for d in evaluation.decisions] == [
        "cp-glasgow-city",
        "housing-glasgow-city",
        "police-g-division",
        "sw-glasgow-city",
    ]
    assert [d.recipient_id for d in evaluation.permitted] == [
        "police-g-division",
        "sw-glasgow-city",
    ]
    assert [d.recipient_id for d in evaluation.denied] == [
        "cp-glasgow-city",
        "housing-glasgow-city",
    ]


def test_a_permitted_recipient_gets_the_rule_fields_purpose_basis_and_deadline() -> None:
    evaluation = bundle().evaluate(notification("release.schedule1-notification"), SCHEDULE1)
    assert decisions(evaluation)["sw-glasgow-city"] == RecipientDecision(
        recipient_id="sw-glasgow-city",
        permitted=True,
        fields=(
            "data.release.address",
            "data.release.expected_date",
            "identifiers.sps_number",
            "time",
            "type",
        ),
        rules=("schedule1-release-to-social-work",),
        purposes=("Assessing and managing the risk to children on release",),
        legal_bases=(
            "schedule1-release-to-social-work: prison-service under mosa-2005-s1; "
            "dpa2018-part3 s35(2)(b); agreement dsa-test; dpia dpia-test",
        ),
        acknowledge_within=timedelta(days=2),
        reasons=(),
    )


def test_deny_by_default_names_the_condition_that_failed() -> None:
    evaluation = bundle().evaluate(notification("release.schedule1-notification"), {})
    assert evaluation.permitted == ()
    social_work = decisions(evaluation)["sw-glasgow-city"]
    assert social_work.fields == ()
    assert social_work.rules == ("schedule1-release-to-social-work",)
    assert social_work.reasons == (
        "schedule1-release-to-social-work does not apply: profile.schedule1 is true: "
        "does not hold (no value at profile.schedule1)",
    )
    schedule1_false = bundle().evaluate(
        notification("release.schedule1-notification"), {"schedule1": False}
    )
    assert decisions(schedule1_false)["police-g-division"].reasons == (
        "schedule1-release-to-police does not apply: profile.schedule1 is true: does not hold",
    )


def test_no_follow_rule_on_the_type_means_no_candidate() -> None:
    evaluation = bundle().evaluate(
        notification("custody.admission"), {}, follows_person_to="hmp-edinburgh"
    )
    assert evaluation.decisions == ()


def test_a_recipient_path_that_names_no_recipient_names_nobody() -> None:
    evaluation = bundle().evaluate(
        notification("custody.admission", data__establishment="hmp-perth"), {}
    )
    assert "hmp-perth" not in decisions(evaluation)
    assert [d.recipient_id for d in evaluation.permitted] == ["police-national", "sps-hq"]


def test_forbid_overrides_permit() -> None:
    temporary = {"data__release__address__accommodation_type": "local-authority-temporary"}
    possible = bundle().evaluate(
        notification("release.schedule1-notification", **temporary), SCHEDULE1
    )
    housing = decisions(possible)["housing-glasgow-city"]
    assert not housing.permitted
    assert housing.reasons == (
        "release-to-housing applies, but a forbid rule overrides it",
        "forbidden by no-possible-release-to-housing: Housing hears only of planned releases",
    )
    planned = bundle().evaluate(
        notification("release.schedule1-notification", data__release__type="planned", **temporary),
        SCHEDULE1,
    )
    assert decisions(planned)["housing-glasgow-city"].permitted


def test_fields_are_the_union_of_the_matching_permit_rules() -> None:
    recall = notification("licence.recall", data__recall_reasons=["increased-risk-of-serious-harm"])
    social_work = decisions(bundle().evaluate(recall, {}))["sw-glasgow-city"]
    assert social_work.permitted
    assert social_work.rules == ("recall-risk-to-social-work", "recall-to-social-work")
    assert social_work.fields == (
        "data.licence_type",
        "data.recall_reasons",
        "data.revocation_date",
        "time",
        "type",
    )
    assert social_work.purposes == (
        "Supervision and risk management after recall",
        "Supervision after recall",
    )
    assert social_work.acknowledge_within == timedelta(hours=4)  # the shorter of 2d and 4h

    without_risk = notification("licence.recall", data__recall_reasons=["curfew-breach"])
    only_one = decisions(bundle().evaluate(without_risk, {}))["sw-glasgow-city"]
    assert only_one.rules == ("recall-to-social-work",)
    assert "data.recall_reasons" not in only_one.fields


def test_a_rule_on_several_types_applies_to_each() -> None:
    for event_type in ("custody.admission", "licence.recall"):
        sps = decisions(bundle().evaluate(notification(event_type), {}))["sps-hq"]
        assert sps.permitted
        assert sps.fields == ("identifiers.sps_number", "time", "type")


def test_a_former_gss_code_still_finds_the_area_in_python_and_in_cedar() -> None:
    admission = notification("custody.admission")
    for home_area in ("S12000050", "S12000044"):  # North Lanarkshire, current and former
        evaluation = bundle().evaluate(admission, {"home_area": home_area})
        assert decisions(evaluation)["nhs-ggc"].permitted, home_area
    assert "nhs-ggc" not in decisions(bundle().evaluate(admission, {"home_area": "S12000005"}))
    raw = json.loads(json.dumps(notification("release.schedule1-notification").raw))
    raw["data"]["release"]["address"]["council_area"] = "S12000046"  # refused by the schema
    evaluation = bundle().evaluate(unchecked(raw), SCHEDULE1)
    assert decisions(evaluation)["sw-glasgow-city"].permitted


def test_records_follow_the_person_to_the_receiving_establishment() -> None:
    referral = notification("mappa.referral")  # level 2
    direct = bundle().evaluate(referral, {"custody_status": "in-custody"})
    assert "hmp-edinburgh" not in decisions(direct)
    assert decisions(direct)["mappa-glasgow"].permitted

    follows = bundle().evaluate(referral, {}, follows_person_to="hmp-edinburgh")
    assert [d.recipient_id for d in follows.decisions] == ["hmp-edinburgh"]
    (decision,) = follows.permitted
    assert decision.rules == ("mappa-level-follows-person",)
    assert decision.fields == (
        "data.category",
        "data.level",
        "data.mappa_area",
        "data.risk_of_serious_harm",
        "time",
        "type",
    )

    level_one = bundle().evaluate(
        notification("mappa.referral", data__level=1), {}, follows_person_to="hmp-edinburgh"
    )
    (denied,) = level_one.denied
    assert denied.reasons == (
        "mappa-level-follows-person does not apply: event.data.level is at least 2: does not hold",
    )


def test_follows_person_to_an_unknown_recipient_is_an_error() -> None:
    with pytest.raises(LookupError, match="hmp-nowhere"):
        bundle().evaluate(notification("mappa.referral"), {}, follows_person_to="hmp-nowhere")


def test_explain_shows_every_rule_and_every_candidate() -> None:
    release = notification("release.schedule1-notification")
    explained = bundle().explain(release, SCHEDULE1)
    assert json.loads(json.dumps(explained)) == explained  # JSON-able as it is
    assert explained["policy_version"] == bundle().version
    assert explained["notification"]["type"] == "release.schedule1-notification"
    rules = {r["id"]: r for r in explained["rules"]}
    assert set(rules) == {
        "schedule1-release-to-social-work",
        "schedule1-release-to-police",
        "schedule1-release-child-protection",
        "release-to-housing",
        "no-possible-release-to-housing",
    }
    assert rules["schedule1-release-to-social-work"]["conditions_hold"] is True
    assert rules["schedule1-release-to-social-work"]["matched_for"] == ["sw-glasgow-city"]
    assert rules["release-to-housing"]["failed_conditions"] == [
        'event.data.release.address.accommodation_type is one of ["local-authority-temporary", '
        '"no-fixed-abode"]'
    ]
    assert rules["release-to-housing"]["source"].endswith("rules/release.yaml:72")
    assert rules["no-possible-release-to-housing"]["effect"] == "forbid"

    candidates = {c["recipient"]: c for c in explained["candidates"]}
    social_work = candidates["sw-glasgow-city"]
    assert social_work["permitted"] is True
    assert social_work["acknowledge_within"] == "2d"
    assert "data.release.address" in social_work["fields_granted"]
    assert social_work["fields_withheld"] == [
        "data.notification_date",
        "data.notifying_agency",
        "data.notifying_establishment",
        "data.release.basis",
        "data.release.type",
        "data.schedule1_offences",
        "datacontenttype",
        "dataschema",
        "identifiers.pnc_id",
        "identifiers.sw_client_id",
        "source",
    ]
    housing = candidates["housing-glasgow-city"]
    assert housing["permitted"] is False
    assert housing["proposed_by"] == ["no-possible-release-to-housing", "release-to-housing"]
    assert housing["fields_granted"] == []
    assert "data" in housing["fields_withheld"]
    assert housing["reasons"][-1].startswith("forbidden by no-possible-release-to-housing")


def test_explain_in_follows_person_mode_considers_only_follow_rules_and_forbids() -> None:
    explained = bundle().explain(
        notification("mappa.referral"), {}, follows_person_to="hmp-edinburgh"
    )
    assert explained["mode"] == "follows-person"
    assert [r["id"] for r in explained["rules"]] == ["mappa-level-follows-person"]
    assert [c["recipient"] for c in explained["candidates"]] == ["hmp-edinburgh"]


def test_a_recipient_named_twice_by_one_rule_is_proposed_once() -> None:
    recall = notification("licence.recall", data__recall_reasons=["increased-risk-of-serious-harm"])
    evaluation = bundle().evaluate(recall, {"release_area": "S12000049"})
    explained = bundle().explain(recall, {"release_area": "S12000049"})
    social_work = decisions(evaluation)["sw-glasgow-city"]
    assert social_work.rules == ("recall-risk-to-social-work", "recall-to-social-work")
    (candidate,) = [c for c in explained["candidates"] if c["recipient"] == "sw-glasgow-city"]
    assert candidate["proposed_by"] == ["recall-risk-to-social-work", "recall-to-social-work"]
