"""The person profile, `hub.domain.profile`: the fold of a person's events into what the policy
engine knows about them. Every notification here is a schema-valid example from `events/`."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.notifications import Notification
from hub.domain.profile import (
    CONTEXT_ATTRIBUTES,
    CUSTODY_STATUSES,
    KNOWN_TYPES,
    PersonProfile,
    RiskAssessment,
    apply,
    receiving_establishment,
)
from hub.domain.schemas import SchemaRegistry

EVENTS = Path(__file__).resolve().parents[2] / "events"
PERSON = "p_test"
#: Removes a path in `example(..., changes)`.
DROP = object()


@cache
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(EVENTS)


def example(
    event_type: str, changes: dict[str, Any] | None = None, **envelope: Any
) -> Notification:
    """The example notification of `event_type`, with `changes` ("data.a.b": value, or DROP)
    and envelope attributes replaced, validated against its schema."""
    raw = copy.deepcopy(json.loads((EVENTS / "examples" / f"{event_type}.json").read_text()))
    raw.update(envelope)
    for path, value in (changes or {}).items():
        *parents, last = path.split(".")
        target = raw
        for key in parents:
            target = target[key]
        if value is DROP:
            target.pop(last, None)
        else:
            target[last] = value
    return registry().validate(raw)


def fold(*notifications: Notification) -> PersonProfile:
    profile: PersonProfile | None = None
    for position, notification in enumerate(notifications, start=1):
        profile = apply(profile, notification, position, PERSON)
    assert profile is not None
    return profile


def admission(**changes: Any) -> Notification:
    return example("custody.admission", {f"data.{k}": v for k, v in changes.items()})


REMAND = {"admission_reason": "remand", "sentence": DROP}
RECALL_AT_LARGE = {"data.custody_status": "at-large"}


def test_every_event_type_in_the_contract_has_a_fold() -> None:
    assert set(registry().event_types()) == KNOWN_TYPES


def test_a_sentence_admission_puts_the_person_in_custody_with_their_record() -> None:
    profile = fold(admission())
    assert profile.as_context() == {
        "custody_status": "in-custody",
        "establishment": "hmp-barlinnie",
        "schedule1": True,
        "sex_offender_registered": True,
        "violent_offender": True,
    }
    assert profile.position == 1
    assert profile.person_id == PERSON


def test_schedule1_status_is_life_long_and_remand_charges_do_not_make_a_violent_offender() -> None:
    profile = fold(
        admission(),
        admission(**REMAND, schedule1_offender=False, offence_categories=["violent"]),
    )
    assert profile.schedule1 is True
    assert fold(admission(**REMAND, offence_categories=["violent"])).violent_offender is None
    assert fold(admission(offence_categories=["dishonesty"])).violent_offender is False


def test_liberation_on_licence_then_recall_at_large_then_recall_admission() -> None:
    released = fold(admission(), example("custody.liberation"))
    assert released.as_context() == {
        "custody_status": "in-community",
        "home_area": "S12000049",
        "release_area": "S12000049",
        "supervising_area": "S12000049",
        "schedule1": True,
        "sex_offender_registered": True,
        "violent_offender": True,
        "on_licence": True,
        "recalled": False,
    }
    at_large = apply(released, example("licence.recall", RECALL_AT_LARGE), 3, PERSON)
    assert (at_large.custody_status, at_large.recalled, at_large.on_licence) == (
        "unlawfully-at-large",
        True,
        False,
    )
    back = apply(
        at_large, admission(admission_reason="recall", establishment="hmp-low-moss"), 4, PERSON
    )
    assert (back.custody_status, back.establishment, back.recalled) == (
        "in-custody",
        "hmp-low-moss",
        True,
    )


def test_liberation_at_the_end_of_sentence_is_not_on_licence_and_has_no_supervisor() -> None:
    profile = fold(
        admission(),
        example("custody.liberation"),
        example(
            "custody.liberation",
            {
                "data.release_type": "end-of-sentence",
                "data.licence": DROP,
                "data.supervising_council_area": DROP,
                "data.release_address.council_area": "S12000047",
            },
            id="second-liberation",
        ),
    )
    assert (profile.on_licence, profile.supervising_area, profile.home_area) == (
        False,
        None,
        "S12000047",
    )


def test_recall_of_a_person_already_held_keeps_them_in_custody() -> None:
    profile = fold(example("licence.recall", {"data.custody_status": "in-custody"}))
    assert profile.custody_status == "in-custody"
    assert profile.supervising_area == "S12000049"


def test_schedule1_notification_names_release_area_and_holding_establishment() -> None:
    profile = fold(example("release.schedule1-notification"))
    assert profile.as_context() == {
        "custody_status": "in-custody",
        "establishment": "hmp-barlinnie",
        "release_area": "S12000049",
        "schedule1": True,
    }


def test_transfer_moves_the_person_and_temporary_release_changes_nothing() -> None:
    moved = fold(admission(), example("custody.transfer"))
    assert (moved.custody_status, moved.establishment) == ("in-custody", "hmp-glenochil")
    on_leave = apply(moved, example("custody.temporary-release"), 3, PERSON)
    assert on_leave.as_context() == moved.as_context()
    assert on_leave.position == 3


def test_mappa_referral_level_change_and_deregistration() -> None:
    referred = fold(example("mappa.referral"))
    assert referred.as_context() == {
        "custody_status": "unknown",
        "mappa_category": "s10(1)(a)",
        "mappa_level": 2,
        "mappa_area": "S12000049",
        "sex_offender_registered": True,
        "risk_level": "high",
    }
    raised = apply(
        referred,
        example(
            "mappa.level-changed",
            {
                "data.change": "level-change",
                "data.previous_level": 2,
                "data.new_level": 3,
                "data.risk_of_serious_harm": "very-high",
            },
        ),
        2,
        PERSON,
    )
    assert (raised.mappa_level, raised.risk_level) == (3, "very-high")
    deregistered = apply(
        raised,
        example(
            "mappa.level-changed",
            {
                "data.change": "deregistration",
                "data.previous_level": 3,
                "data.new_level": DROP,
                "data.previous_category": DROP,
                "data.risk_of_serious_harm": DROP,
                "data.deregistration_reason": "notification-requirements-ended",
            },
            id="deregistration",
        ),
        3,
        PERSON,
    )
    assert (deregistered.mappa_category, deregistered.mappa_level, deregistered.mappa_area) == (
        None,
        None,
        None,
    )
    assert deregistered.sex_offender_registered is False


def risk(tool: str, level: str, date: str, measure: str = "risk-of-reconviction") -> Notification:
    return example(
        "risk.assessment-recorded",
        {
            "data.tool": tool,
            "data.outcome_level": level,
            "data.assessment_date": date,
            "data.measure": measure,
        },
        id=f"risk-{tool}-{date}",
    )


def test_the_latest_assessment_of_each_tool_is_kept_by_assessment_date() -> None:
    profile = fold(
        risk("RM2000", "high", "2023-10-20"),
        risk("SA07", "medium", "2023-01-05"),
        risk("RM2000", "low", "2022-01-01"),  # older, arriving later: not the latest
        risk("RA3", "very-high", "2024-02-01", measure="risk-of-serious-harm"),
    )
    assert profile.risk_assessments == (
        RiskAssessment("RA3", "very-high", "2024-02-01", "risk-of-serious-harm"),
        RiskAssessment("RM2000", "high", "2023-10-20", "risk-of-reconviction"),
        RiskAssessment("SA07", "medium", "2023-01-05", "risk-of-reconviction"),
    )
    assert profile.risk_level == "very-high"  # only a risk-of-serious-harm outcome sets it
    assert fold(risk("RM2000", "high", "2023-10-20")).risk_level is None


def test_missing_and_located() -> None:
    in_custody = fold(admission())
    escaped = apply(
        in_custody,
        example("person.missing", {"data.trigger": "escaped-from-custody"}),
        2,
        PERSON,
    )
    assert escaped.custody_status == "unlawfully-at-large"
    arrested = apply(escaped, example("person.located", {"data.outcome": "arrested"}), 3, PERSON)
    assert arrested.custody_status == "in-custody"

    released = fold(admission(), example("custody.liberation"))
    missing = apply(
        released, example("person.missing", {"data.trigger": "whereabouts-unknown"}), 3, PERSON
    )
    assert missing.custody_status == "in-community"


def test_health_consent_is_the_last_decision_recorded() -> None:
    refused = fold(
        example("health.information-shared"),
        example(
            "health.information-shared",
            {"data.consent.given": False},
            id="consent-refused",
        ),
    )
    assert refused.health_consent is False
    justified = apply(
        refused,
        example(
            "health.information-shared",
            {
                "data.consent": DROP,
                "data.harm_prevention_justification": {
                    "text": "Risk to children at the release address.",
                    "authorised_by": "Caldicott Guardian",
                    "date": "2023-11-28",
                },
            },
            id="justified",
        ),
        3,
        PERSON,
    )
    assert justified.health_consent is False  # no consent decision: the last one stands


def test_an_unknown_type_moves_only_the_position() -> None:
    before = fold(admission())
    unknown = Notification(
        id="x",
        source="urn:test",
        type="court.disposal",
        version=1,
        time=before_time(),
        identifiers=(),
        data={"establishment": "hmp-perth"},
    )
    after = apply(before, unknown, 7, PERSON)
    assert after == PersonProfile(**{**_fields(before), "position": 7})


def before_time() -> Any:
    return admission().time


def _fields(profile: PersonProfile) -> dict[str, Any]:
    return {name: getattr(profile, name) for name in PersonProfile.__dataclass_fields__}


def test_an_event_already_applied_changes_nothing() -> None:
    profile = fold(admission(), example("custody.liberation"))
    assert apply(profile, admission(establishment="hmp-perth"), 2, PERSON) is profile
    assert apply(profile, admission(establishment="hmp-perth"), 1, PERSON) is profile


def test_an_event_of_another_person_is_refused() -> None:
    with pytest.raises(ValueError, match="not p_test"):
        apply(fold(admission()), admission(), 2, "p_other")


def test_the_context_is_json_with_only_documented_attributes() -> None:
    profile = fold(
        admission(),
        example("mappa.referral"),
        example("health.information-shared"),
        risk("RA3", "high", "2024-02-01", measure="risk-of-serious-harm"),
        example("custody.liberation"),
    )
    context = profile.as_context()
    assert set(context) <= set(CONTEXT_ATTRIBUTES)
    assert json.loads(json.dumps(context)) == context
    assert set(context) == set(CONTEXT_ATTRIBUTES) - {"establishment"}


def test_json_round_trip() -> None:
    profile = fold(
        admission(),
        risk("RM2000", "high", "2023-10-20"),
        risk("RA3", "high", "2024-02-01", measure="risk-of-serious-harm"),
        example("mappa.referral"),
    )
    document = json.loads(json.dumps(profile.to_json()))
    assert PersonProfile.from_json(document) == profile
    with pytest.raises(ValueError, match="format"):
        PersonProfile.from_json({**document, "format": 99})


def test_records_follow_the_person_into_each_new_establishment_once() -> None:
    first = admission()
    admitted = fold(first)
    assert receiving_establishment(None, admitted, first) == "hmp-barlinnie"

    transfer = example("custody.transfer")
    moved = apply(admitted, transfer, 2, PERSON)
    assert receiving_establishment(admitted, moved, transfer) == "hmp-glenochil"

    # The receiving prison records the arrival too: the person is already held there.
    arrival = admission(
        admission_reason="transfer-in",
        establishment="hmp-glenochil",
        previous_establishment="hmp-barlinnie",
    )
    arrived = apply(moved, arrival, 3, PERSON)
    assert receiving_establishment(moved, arrived, arrival) is None

    liberation = example("custody.liberation")
    released = apply(arrived, liberation, 4, PERSON)
    assert receiving_establishment(arrived, released, liberation) is None

    recall = admission(admission_reason="recall", establishment="hmp-glenochil")
    recalled = apply(released, recall, 5, PERSON)
    assert receiving_establishment(released, recalled, recall) == "hmp-glenochil"


ALL_EXAMPLES = sorted(KNOWN_TYPES)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(ALL_EXAMPLES), max_size=12))
def test_any_stream_folds_to_a_valid_profile_that_survives_storage(types: list[str]) -> None:
    notifications = [example(t) for t in types]
    profile: PersonProfile | None = None
    for position, notification in enumerate(notifications, start=1):
        profile = apply(profile, notification, position, PERSON)
    if profile is None:
        return
    assert profile.custody_status in CUSTODY_STATUSES
    assert PersonProfile.from_json(json.loads(json.dumps(profile.to_json()))) == profile
    # The fold is a function of the stream: folding it again gives the same profile.
    again: PersonProfile | None = None
    for position, notification in enumerate(notifications, start=1):
        again = apply(again, notification, position, PERSON)
    assert again == profile
