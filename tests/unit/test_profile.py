"""The person profile, `hub.domain.person`: status records that begin and end, folded from a
person's events under the Scotland bundle's status authorities, and seen as of a time. Existing
event types use their schema-valid examples from `events/`; the new types of issue 14 are built
from their key fields."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.notifications import Notification
from hub.domain.person import (
    CONTEXT_ATTRIBUTES,
    CUSTODY_STATUSES,
    Authorities,
    PersonProfile,
    ProfileFormatUnknown,
    RiskAssessment,
    Status,
    apply,
    receiving_establishment,
)
from hub.domain.person.fold import KNOWN_TYPES
from hub.domain.policy.rules import Problems, load_yaml
from hub.domain.policy.statuses import read_statuses
from hub.domain.schemas import SchemaRegistry

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
PERSON = "p_test"
#: Removes a path in `example(..., changes)`.
DROP = object()
POLICE = "urn:pph:police-scotland:visor"
PR2 = "urn:pph:sps:pr2:hmp-barlinnie"
SOCIAL_WORK = "urn:pph:socialwork:S12000049"
MINISTERS = "urn:pph:scottish-ministers:community-licence-team"
GLASGOW, FIFE, EDINBURGH = "S12000049", "S12000047", "S12000036"


@cache
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(EVENTS)


@cache
def scotland() -> Authorities:
    """The authorities of the Scotland bundle's statuses.yaml."""
    file = str(ROOT / "policies" / "scotland" / "statuses.yaml")
    problems = Problems()
    authorities = read_statuses(
        load_yaml(Path(file).read_text("utf-8"), file, problems), file, problems
    )
    assert not problems, problems.lines()
    return authorities


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


def note(event_type: str, source: str, time: str, **data: Any) -> Notification:
    """A notification of one of issue 14's types, by its key fields (not schema-validated)."""
    return Notification(
        id=f"{event_type}-{time}",
        source=source,
        type=event_type,
        version=1,
        time=datetime.fromisoformat(time),
        identifiers=(),
        data=data,
    )


def fold(*notifications: Notification) -> PersonProfile:
    profile: PersonProfile | None = None
    for position, notification in enumerate(notifications, start=1):
        profile = apply(profile, notification, position, PERSON, scotland())
    assert profile is not None
    return profile


def seen(*notifications: Notification) -> dict[str, Any]:
    """What a rule judging the last notification sees: the profile as of its time."""
    return fold(*notifications).as_context(as_of=notifications[-1].time)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def admission(source: str = PR2, **changes: Any) -> Notification:
    return example("custody.admission", {f"data.{k}": v for k, v in changes.items()}, source=source)


def later(notification: Notification, time: str, **envelope: Any) -> Notification:
    """`notification` again at another time (and id)."""
    raw = notification.to_envelope()
    raw.update(time=time, id=f"{notification.id}-{time}", **envelope)
    return registry().validate(raw)


REMAND: dict[str, Any] = {"admission_reason": "remand", "sentence": DROP}
RECALL_AT_LARGE = {"data.custody_status": "at-large"}


def test_every_event_type_in_the_contract_has_a_fold() -> None:
    assert set(registry().event_types()) == KNOWN_TYPES


# -- custody ------------------------------------------------------------------------------------


def test_a_sentence_admission_puts_the_person_in_custody_with_their_record() -> None:
    profile = fold(admission())
    assert profile.as_context(as_of=admission().time) == {
        "custody_status": "in-custody",
        "establishment": "hmp-barlinnie",
        "schedule1": True,
        "sex_offender_registered": True,
    }
    assert profile.position == 1
    custody = profile.status("custody")
    assert custody is not None
    assert (custody.set_by, custody.position, custody.began, custody.ends) == (
        "sps",
        1,
        "2021-03-12T16:40:00+00:00",
        None,
    )


def test_offence_text_never_makes_a_violent_offender_or_orosh() -> None:
    """What was found: any non-remand admission mentioning violence made a violent offender for
    good. ORoSH is MAPPA's determination, not an inference from offence text."""
    four_months = admission(offence_categories=["violent"], schedule1_offender=False)
    assert "orosh" not in seen(four_months)
    remand_later = later(
        admission(**REMAND, offence_categories=["dishonesty"]), "2031-01-05T09:00:00Z"
    )
    context = seen(four_months, example("custody.liberation"), remand_later)
    assert "orosh" not in context
    assert "violent_offender" not in CONTEXT_ATTRIBUTES


def test_schedule1_status_is_life_long() -> None:
    profile = fold(
        admission(),
        later(admission(**REMAND, schedule1_offender=False), "2040-01-01T00:00:00Z"),
    )
    assert profile.as_context(as_of=at("2060-01-01T00:00:00"))["schedule1"] is True
    record = profile.status("schedule1")
    assert record is not None
    assert record.ends is None
    assert record.position == 1


def test_liberation_on_licence_then_recall_at_large_then_recall_admission() -> None:
    liberation = example("custody.liberation")
    assert seen(admission(), liberation) == {
        "custody_status": "in-community",
        "home_area": GLASGOW,
        "release_area": GLASGOW,
        "schedule1": True,
        "sex_offender_registered": True,
        "on_licence": True,
        "licence_type": "parole",
        "licence_end": "2026-09-11",
        "statutory_supervision": True,
        "supervising_area": GLASGOW,
    }
    recall = example("licence.recall", RECALL_AT_LARGE)
    at_large = seen(admission(), liberation, recall)
    assert (at_large["custody_status"], at_large["recalled"], at_large["on_licence"]) == (
        "unlawfully-at-large",
        True,
        False,
    )
    assert "supervising_area" not in at_large
    # The council that supervised until the recall, on the recall's profile only.
    assert at_large["left_supervising_area"] == GLASGOW
    back = admission(admission_reason="recall", establishment="hmp-low-moss")
    back = later(back, "2024-05-22T10:00:00Z")
    context = seen(admission(), liberation, recall, back)
    assert (context["custody_status"], context["establishment"], context["recalled"]) == (
        "in-custody",
        "hmp-low-moss",
        True,
    )
    assert "left_supervising_area" not in context


def test_a_licence_ends_on_its_expiry_date_so_a_remand_years_later_sees_no_licence() -> None:
    """What was found: a parolee whose licence ended in 2026, remanded in 2031, was reported to
    "supervising" social work."""
    remand = later(admission(**REMAND, offence_categories=["dishonesty"]), "2031-02-03T09:00:00Z")
    context = seen(admission(), example("custody.liberation"), remand)
    assert context["on_licence"] is False
    assert context["statutory_supervision"] is False
    assert "supervising_area" not in context
    assert "licence_end" not in context
    # Inclusive through the expiry date, in the notification's own calendar.
    profile = fold(admission(), example("custody.liberation"))
    assert profile.as_context(as_of=at("2026-09-11T23:00:00"))["on_licence"] is True
    assert profile.as_context(as_of=at("2026-09-12T00:00:00"))["on_licence"] is False


def test_liberation_at_the_end_of_sentence_is_not_on_licence_and_has_no_supervisor() -> None:
    end_of_sentence = example(
        "custody.liberation",
        {
            "data.release_type": "end-of-sentence",
            "data.licence": DROP,
            "data.supervising_council_area": DROP,
            "data.release_address.council_area": FIFE,
        },
        id="end-of-sentence",
    )
    context = seen(admission(), end_of_sentence)
    assert "on_licence" not in context
    assert "supervising_area" not in context
    assert context["home_area"] == FIFE


def test_recall_of_a_person_already_held_keeps_them_in_custody_where_they_are() -> None:
    recall = example("licence.recall", {"data.custody_status": "in-custody"})
    context = seen(admission(), recall)
    assert (context["custody_status"], context["establishment"]) == (
        "in-custody",
        "hmp-barlinnie",
    )
    assert context["recalled"] is True


def test_schedule1_notification_names_release_area_and_holding_establishment() -> None:
    assert seen(example("release.schedule1-notification")) == {
        "custody_status": "in-custody",
        "establishment": "hmp-barlinnie",
        "release_area": GLASGOW,
        "schedule1": True,
    }


def test_a_schedule1_notice_from_prison_based_social_work_marks_a_schedule1_offender() -> None:
    # events/README.md: PR2 or prison-based social work sends the notice; both may begin it.
    notice = example("release.schedule1-notification", source="urn:pph:socialwork:S12000049")
    assert seen(notice)["schedule1"] is True


def test_transfer_moves_the_person_and_temporary_release_changes_nothing() -> None:
    moved = fold(admission(), example("custody.transfer"))
    when = example("custody.temporary-release").time
    assert moved.as_context(as_of=when)["establishment"] == "hmp-glenochil"
    on_leave = apply(moved, example("custody.temporary-release"), 3, PERSON, scotland())
    assert on_leave.as_context(as_of=when) == moved.as_context(as_of=when)
    assert on_leave.position == 3


# -- notification requirements and authority ---------------------------------------------------


def registered(time: str = "2024-01-10T10:00:00+00:00", **data: Any) -> Notification:
    fields: dict[str, Any] = {
        "registration_date": time[:10],
        "indefinite": True,
        "basis": "conviction",
        "address": {"council_area": GLASGOW},
        "police_division": "G",
    }
    return note("sex-offender.registered", POLICE, time, **{**fields, **data})


def test_a_pr2_marker_n_never_ends_a_visor_registration() -> None:
    """What was found: a PR2 admission marked `N` overwrote a ViSOR registration."""
    marker_n = later(admission(sex_offender_notification=False), "2025-01-01T09:00:00Z")
    context = seen(registered(), marker_n)
    assert context["sex_offender_registered"] is True
    record = fold(registered(), marker_n).status("notification_requirements")
    assert record is not None
    assert record.set_by == "police-scotland"
    # PR2's own marker is PR2's to end; police end what police began.
    assert seen(admission(), marker_n)["sex_offender_registered"] is False
    ended = note(
        "sex-offender.requirements-ended",
        POLICE,
        "2025-02-01T09:00:00+00:00",
        end_date="2025-02-01",
        reason="discharged-on-review",
    )
    assert seen(registered(), marker_n, ended)["sex_offender_registered"] is False


def test_notification_requirements_end_on_their_end_date() -> None:
    fixed = registered(indefinite=False, requirements_end_date="2029-01-09")
    profile = fold(fixed)
    assert (
        profile.as_context(as_of=at("2029-01-09T12:00:00"))["notification_requirements_end"]
        == "2029-01-09"
    )
    assert profile.as_context(as_of=at("2029-01-10T00:00:00"))["sex_offender_registered"] is False
    assert "notification_requirements_end" not in seen(registered())  # indefinite


def test_a_weaker_source_begins_nothing_over_a_stronger_but_a_stronger_one_takes_over() -> None:
    by_pr2 = fold(admission())
    assert by_pr2.status("notification_requirements").set_by == "sps"  # type: ignore[union-attr]
    taken_over = fold(admission(), registered())
    record = taken_over.status("notification_requirements")
    assert record is not None
    assert record.set_by == "police-scotland"
    assert record.position == 2
    again_pr2 = fold(registered(), later(admission(), "2025-01-01T00:00:00Z"))
    record = again_pr2.status("notification_requirements")
    assert record is not None
    assert record.set_by == "police-scotland"
    assert record.position == 1


def test_a_registration_change_of_address_moves_the_home_area_for_that_notification() -> None:
    change = note(
        "sex-offender.notification-changed",
        POLICE,
        "2024-03-01T10:00:00+00:00",
        change="address",
        notified_date="2024-03-01",
        address={"council_area": FIFE},
    )
    context = seen(registered(), change)
    assert (context["home_area"], context["left_home_area"]) == (FIFE, GLASGOW)
    travel = note(
        "sex-offender.notification-changed",
        POLICE,
        "2024-04-01T10:00:00+00:00",
        change="foreign-travel",
        notified_date="2024-04-01",
        travel={
            "departure_date": "2024-05-01",
            "return_date": "2024-05-08",
            "destination_country": "ES",
        },
    )
    context = seen(registered(), change, travel)
    assert context["home_area"] == FIFE
    assert "left_home_area" not in context


def test_court_disposal_begins_schedule1_and_notification_requirements() -> None:
    disposal = note(
        "court.disposal",
        "urn:pph:scts:glasgow-sheriff-court",
        "2024-01-10T10:00:00+00:00",
        disposal="custodial-sentence",
        schedule1_offence=True,
        notification_requirements_imposed=True,
        trial_judge_report=True,
        on_indictment=True,
    )
    context = seen(disposal)
    assert (context["schedule1"], context["sex_offender_registered"]) == (True, True)
    assert fold(disposal).status("notification_requirements").set_by == "scts"  # type: ignore[union-attr]


# -- MAPPA ---------------------------------------------------------------------------------------


def test_mappa_referral_level_change_and_deregistration() -> None:
    referral = example("mappa.referral")
    assert seen(referral) == {
        "custody_status": "unknown",
        "mappa_category": "s10(1)(a)",
        "mappa_category_group": "registered-sex-offender",
        "mappa_level": 2,
        "mappa_area": GLASGOW,
        "orosh": False,
        "restricted_patient": False,
        "sex_offender_registered": True,
        "risk_level": "high",
    }
    raised = example(
        "mappa.level-changed",
        {
            "data.change": "level-change",
            "data.previous_level": 2,
            "data.new_level": 3,
            "data.risk_of_serious_harm": "very-high",
        },
    )
    context = seen(referral, raised)
    assert (context["mappa_level"], context["risk_level"]) == (3, "very-high")
    deregistration = example(
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
        time="2024-03-01T10:00:00Z",
    )
    context = seen(referral, raised, deregistration)
    assert not {"mappa_category", "mappa_level", "mappa_area"} & set(context)
    assert context["orosh"] is False
    # MAPPA ranks above the social work referral that began the requirements: they end.
    assert context["sex_offender_registered"] is False
    # Not above ViSOR's registration: that stands until police end it or its date passes.
    assert seen(registered(), referral, raised, deregistration)["sex_offender_registered"]


def test_orosh_and_restricted_patient_are_the_active_mappa_category_group() -> None:
    orosh = example(
        "mappa.referral",
        {"data.category": "s10(1)(e)", "data.category_group": "other-risk-of-serious-harm"},
    )
    context = seen(orosh)
    assert (context["orosh"], context["restricted_patient"]) == (True, False)
    assert "sex_offender_registered" not in context
    patient = example(
        "mappa.referral",
        {"data.category": "s10(1)(c)", "data.category_group": "restricted-patient"},
    )
    assert seen(patient)["restricted_patient"] is True
    over = example(
        "mappa.level-changed",
        {
            "data.change": "deregistration",
            "data.category": "s10(1)(e)",
            "data.category_group": "other-risk-of-serious-harm",
            "data.new_level": DROP,
            "data.previous_category": DROP,
            "data.deregistration_reason": "risk-reduced",
        },
    )
    assert seen(orosh, over)["orosh"] is False


# -- supervision, licences, moves ----------------------------------------------------------------


def started(council: str = GLASGOW, **data: Any) -> Notification:
    fields = {
        "order_type": "community-payback-order",
        "imposed_by": "court",
        "supervising_council_area": council,
        "start_date": "2024-01-10",
        "end_date": "2025-01-09",
    }
    return note(
        "supervision.started", SOCIAL_WORK, "2024-01-10T10:00:00+00:00", **{**fields, **data}
    )


def test_supervision_starts_transfers_ends_and_lapses_at_its_end_date() -> None:
    transfer = note(
        "supervision.transferred",
        SOCIAL_WORK,
        "2024-03-01T10:00:00+00:00",
        from_council_area=GLASGOW,
        to_council_area=FIFE,
        effective_date="2024-03-01",
    )
    assert seen(started())["supervising_area"] == GLASGOW
    context = seen(started(), transfer)
    assert (context["supervising_area"], context["left_supervising_area"]) == (FIFE, GLASGOW)
    profile = fold(started(), transfer)
    assert profile.as_context(as_of=at("2025-01-09T12:00:00"))["statutory_supervision"] is True
    lapsed = profile.as_context(as_of=at("2025-01-10T00:00:00"))
    assert lapsed["statutory_supervision"] is False
    assert "supervising_area" not in lapsed
    ended = note(
        "supervision.ended",
        SOCIAL_WORK,
        "2024-06-01T10:00:00+00:00",
        supervising_council_area=FIFE,
        end_date="2024-06-01",
        reason="completed",
    )
    context = seen(started(), transfer, ended)
    assert context["statutory_supervision"] is False
    assert context["left_supervising_area"] == FIFE


def test_a_licence_varied_to_a_later_expiry_and_then_expired() -> None:
    varied = note(
        "licence.varied",
        MINISTERS,
        "2025-01-10T10:00:00+00:00",
        variation_date="2025-01-10",
        licence_type="parole-licence",
        conditions_added=[],
        conditions_removed=[],
        new_expiry_date="2027-03-01",
    )
    profile = fold(admission(), example("custody.liberation"), varied)
    in_2027 = profile.as_context(as_of=at("2027-01-01T00:00:00"))
    assert (in_2027["on_licence"], in_2027["licence_end"], in_2027["supervising_area"]) == (
        True,
        "2027-03-01",
        GLASGOW,
    )
    record = profile.status("licence")
    assert record is not None
    assert record.set_by == "scottish-ministers"
    expired = note(
        "licence.expired",
        MINISTERS,
        "2026-06-01T10:00:00+00:00",
        expiry_date="2026-06-01",
        licence_type="parole-licence",
    )
    context = seen(admission(), example("custody.liberation"), varied, expired)
    assert (context["on_licence"], context["statutory_supervision"]) == (False, False)


def test_social_work_cannot_end_a_licence_the_ministers_varied() -> None:
    varied = note(
        "licence.varied",
        MINISTERS,
        "2025-01-10T10:00:00+00:00",
        variation_date="2025-01-10",
        licence_type="parole-licence",
        conditions_added=[],
        conditions_removed=[],
    )
    by_social_work = note(
        "licence.expired",
        SOCIAL_WORK,
        "2025-02-01T10:00:00+00:00",
        expiry_date="2025-02-01",
        licence_type="parole-licence",
    )
    context = seen(admission(), example("custody.liberation"), varied, by_social_work)
    assert context["on_licence"] is True


def test_an_address_change_moves_the_home_area_and_the_move_is_seen_once() -> None:
    moved = note(
        "person.address-changed",
        SOCIAL_WORK,
        "2024-02-01T10:00:00+00:00",
        effective_date="2024-02-01",
        new_address={"council_area": EDINBURGH},
        reported_by="social-work",
    )
    context = seen(admission(), example("custody.liberation"), moved)
    assert (context["home_area"], context["left_home_area"]) == (EDINBURGH, GLASGOW)
    missing = later(example("person.missing"), "2024-05-18T09:10:00+01:00")
    context = seen(admission(), example("custody.liberation"), moved, missing)
    assert context["home_area"] == EDINBURGH
    assert "left_home_area" not in context


# -- missing, end of life --------------------------------------------------------------------------


def test_missing_and_located() -> None:
    escape = later(
        example("person.missing", {"data.trigger": "escaped-from-custody"}),
        "2022-01-01T10:00:00Z",
        source=PR2,
    )
    context = seen(admission(), escape)
    # Still the establishment's prisoner in law: it is still told.
    assert (context["custody_status"], context["establishment"], context["missing"]) == (
        "unlawfully-at-large",
        "hmp-barlinnie",
        True,
    )
    arrested = later(
        example("person.located", {"data.outcome": "arrested"}), "2022-01-02T10:00:00Z"
    )
    context = seen(admission(), escape, arrested)
    assert (context["custody_status"], context["missing"]) == ("in-custody", False)

    missing = example("person.missing", {"data.trigger": "whereabouts-unknown"})
    context = seen(admission(), example("custody.liberation"), missing)
    assert (context["custody_status"], context["missing"]) == ("in-community", True)
    readmitted = later(admission(), "2024-06-01T10:00:00Z")
    assert seen(example("custody.liberation"), missing, readmitted)["missing"] is False


def test_death_ends_every_status_whoever_set_it_but_schedule1() -> None:
    died = note(
        "person.died",
        POLICE,
        "2025-01-01T10:00:00+00:00",
        date_of_death="2024-12-30",
        reported_by="police-scotland",
    )
    varied = note(
        "licence.varied",
        MINISTERS,
        "2024-01-10T10:00:00+00:00",
        variation_date="2024-01-10",
        licence_type="parole-licence",
        conditions_added=[],
        conditions_removed=[],
    )
    context = seen(
        registered("2023-01-01T00:00:00+00:00"), example("custody.liberation"), varied, died
    )
    assert context["deceased"] is True
    assert (context["on_licence"], context["statutory_supervision"]) == (False, False)
    assert context["sex_offender_registered"] is False
    assert context["custody_status"] == "unknown"


def test_removal_from_scotland_ends_custody_supervision_and_home_area_until_back() -> None:
    removed = note(
        "person.removed-from-scotland",
        POLICE,
        "2025-01-01T10:00:00+00:00",
        date="2025-01-01",
        destination="england-and-wales",
        reason="moved",
    )
    context = seen(started(), example("custody.liberation"), removed)
    assert context["removed_from_scotland"] is True
    assert "home_area" not in context
    assert "supervising_area" not in context
    assert context["left_home_area"] == GLASGOW
    back = note(
        "person.address-changed",
        POLICE,
        "2025-06-01T10:00:00+00:00",
        effective_date="2025-06-01",
        new_address={"council_area": FIFE},
        reported_by="police",
    )
    context = seen(started(), example("custody.liberation"), removed, back)
    assert (context["removed_from_scotland"], context["home_area"]) == (False, FIFE)
    # Any address in Scotland ends it: a registration's too.
    again = registered("2025-07-01T10:00:00+00:00")
    assert (
        seen(started(), example("custody.liberation"), removed, again)["removed_from_scotland"]
        is False
    )


# -- risk and health ----------------------------------------------------------------------------


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
        scotland(),
    )
    assert justified.health_consent is False  # no consent decision: the last one stands


# -- the fold and its stored form ------------------------------------------------------------------


def test_an_unknown_type_moves_only_the_position() -> None:
    before = fold(admission())
    unknown = note("shoe.size-changed", PR2, "2022-01-01T00:00:00+00:00", size=9)
    after = apply(before, unknown, 7, PERSON, scotland())
    assert after.statuses == before.statuses
    assert after.position == 7


def test_an_event_already_applied_changes_nothing() -> None:
    profile = fold(admission(), example("custody.liberation"))
    assert apply(profile, admission(establishment="hmp-perth"), 2, PERSON, scotland()) is profile


def test_an_event_of_another_person_is_refused() -> None:
    with pytest.raises(ValueError, match="not p_test"):
        apply(fold(admission()), admission(), 2, "p_other", scotland())


def test_the_context_is_json_with_only_documented_attributes() -> None:
    profile = fold(
        admission(),
        example("mappa.referral"),
        example("health.information-shared"),
        risk("RA3", "high", "2024-02-01", measure="risk-of-serious-harm"),
        example("custody.liberation"),
    )
    context = profile.as_context(as_of=at("2024-01-01T00:00:00"))
    assert set(context) <= set(CONTEXT_ATTRIBUTES)
    assert json.loads(json.dumps(context)) == context


def test_json_round_trip_in_format_2() -> None:
    profile = fold(
        admission(),
        risk("RM2000", "high", "2023-10-20"),
        risk("RA3", "high", "2024-02-01", measure="risk-of-serious-harm"),
        example("mappa.referral"),
        example("custody.liberation"),
        example("licence.recall", RECALL_AT_LARGE),
    )
    document = json.loads(json.dumps(profile.to_json()))
    assert document["format"] == 2
    assert PersonProfile.from_json(document) == profile


def test_a_format_1_profile_is_refused_with_the_way_out() -> None:
    old = {"format": 1, "person_id": PERSON, "position": 3, "schedule1": True}
    with pytest.raises(ProfileFormatUnknown, match="run `hub projections rebuild`"):
        PersonProfile.from_json(old)


def test_records_follow_the_person_into_each_new_establishment_once() -> None:
    first = admission()
    admitted = fold(first)
    assert receiving_establishment(None, admitted, first) == "hmp-barlinnie"

    transfer = example("custody.transfer")
    moved = apply(admitted, transfer, 2, PERSON, scotland())
    assert receiving_establishment(admitted, moved, transfer) == "hmp-glenochil"

    # The receiving prison records the arrival too: the person is already held there.
    arrival = later(
        admission(
            admission_reason="transfer-in",
            establishment="hmp-glenochil",
            previous_establishment="hmp-barlinnie",
        ),
        "2022-06-07T12:00:00+01:00",
    )
    arrived = apply(moved, arrival, 3, PERSON, scotland())
    assert receiving_establishment(moved, arrived, arrival) is None

    liberation = example("custody.liberation")
    released = apply(arrived, liberation, 4, PERSON, scotland())
    assert receiving_establishment(arrived, released, liberation) is None

    recall = later(
        admission(admission_reason="recall", establishment="hmp-glenochil"),
        "2024-05-22T10:00:00Z",
    )
    recalled = apply(released, recall, 5, PERSON, scotland())
    assert receiving_establishment(released, recalled, recall) == "hmp-glenochil"


def test_a_status_record_round_trips_and_says_when_it_is_active() -> None:
    record = Status(
        "licence",
        {"licence_type": "parole"},
        4,
        "2024-01-01T00:00:00+00:00",
        "sps",
        ends="2024-06-30T12:00:00+00:00",
        closed_by="licence.recall",
    )
    assert Status.from_json(json.loads(json.dumps(record.to_json()))) == record
    assert record.active(at("2024-06-30T11:59:59"))
    assert not record.active(at("2024-06-30T12:00:00"))


ALL_EXAMPLES = sorted(registry().event_types())


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(ALL_EXAMPLES), max_size=12))
def test_any_stream_of_examples_folds_to_a_profile_that_survives_storage(types: list[str]) -> None:
    notifications = [example(t) for t in types]
    profile: PersonProfile | None = None
    for position, notification in enumerate(notifications, start=1):
        profile = apply(profile, notification, position, PERSON, scotland())
        context = profile.as_context(as_of=notification.time)
        assert set(context) <= set(CONTEXT_ATTRIBUTES)
        assert context["custody_status"] in CUSTODY_STATUSES
    if profile is None:
        return
    assert PersonProfile.from_json(json.loads(json.dumps(profile.to_json()))) == profile
    # The fold is a function of the stream: folding it again gives the same profile.
    assert fold(*notifications) == profile
