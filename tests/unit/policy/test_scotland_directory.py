"""The Scotland directory brought up to date: MAPPA regions, HMP Highland, the State Hospital, the
duty-to-co-operate bodies, each resolved as of a notification's day."""

from __future__ import annotations

from datetime import date
from functools import cache

from hub.domain.policy import PolicyBundle
from hub.domain.policy.validity import Validity

from .support import ROOT, notification, schemas


@cache
def scotland() -> PolicyBundle:
    return PolicyBundle.load(ROOT / "policies" / "scotland", schemas())


def candidates(event_type: str, **changes: object) -> set[str]:
    evaluation = scotland().evaluate(notification(event_type, **changes), {})
    return {d.recipient_id for d in evaluation.decisions}


def test_an_admission_dated_before_hmp_highland_opened_does_not_reach_it() -> None:
    before = candidates(
        "custody.admission", time="2023-03-12T16:40:00Z", data__establishment="hmp-highland"
    )
    after = candidates(
        "custody.admission", time="2026-09-01T10:00:00Z", data__establishment="hmp-highland"
    )
    assert "hmp-highland" not in before
    assert "hmp-highland" in after


def test_scotland_has_one_coordinator_per_council_area_on_any_day() -> None:
    directory = scotland().directory
    for day in (date(2010, 1, 1), date(2017, 4, 1), date(2026, 12, 6)):
        for gss in directory.areas:
            assert len(directory.serving("mappa-coordinator", gss, on=day)) == 1, (gss, day)


def test_scotland_lists_the_new_bodies_with_their_roles_and_dates() -> None:
    directory = scotland().directory
    roles = {
        "state-hospital": "special-health-board",
        "risk-management-authority": "risk-management-authority",
        "scra": "children-reporter",
        "social-security-scotland": "social-security",
        "electronic-monitoring-provider": "electronic-monitoring",
        "scottish-ministers": "licensing-authority",
    }
    assert {i: directory.recipients[i].role for i in roles} == roles
    sss = directory.recipients["social-security-scotland"]
    assert sss.validity == Validity(date(2021, 1, 8), None)
    assert len(sss.areas) == 32
