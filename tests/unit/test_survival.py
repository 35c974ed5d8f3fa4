"""Which statuses outlive retention, and how a rebuild restores them
(`hub.domain.person.survival`)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hub.domain.person import PersonProfile, ProfileFormatUnknown, Status
from hub.domain.person.survival import must_survive, restore, surviving_statuses

SCHEDULE1 = Status("schedule1", {"by": "custody.admission"}, 3, "2010-01-01T00:00:00+00:00", "sps")
INDEFINITE = Status(
    "notification_requirements",
    {"indefinite": True},
    4,
    "2010-02-01T00:00:00+00:00",
    "police-scotland",
)


def test_schedule1_and_open_indefinite_requirements_survive_nothing_else() -> None:
    assert must_survive(SCHEDULE1)
    assert must_survive(INDEFINITE)
    ended = replace(INDEFINITE, ends="2012-01-01T00:00:00+00:00", closed_by="x")
    assert not must_survive(ended)
    fixed = Status("notification_requirements", {"indefinite": False}, 4, ends="2030-01-01")
    assert not must_survive(fixed)
    marker = Status("notification_requirements", {"by": "custody.admission"}, 2, set_by="sps")
    assert not must_survive(marker)  # its period is not known
    assert not must_survive(Status("licence", {}, 5))


def test_the_survivors_of_a_stored_profile_of_format_2_and_1() -> None:
    profile = PersonProfile(
        "p_1",
        9,
        statuses=(Status("custody", {"custody_status": "in-custody"}), SCHEDULE1, INDEFINITE),
    )
    assert surviving_statuses(profile.to_json()) == ("p_1", (SCHEDULE1, INDEFINITE))
    old = {
        "format": 1,
        "person_id": "p_2",
        "position": 7,
        "schedule1": True,
        "sex_offender_registered": True,
    }
    person, (carried,) = surviving_statuses(old)
    assert person == "p_2"
    assert (carried.kind, carried.position, carried.set_by) == ("schedule1", 0, "hub")
    assert surviving_statuses({**old, "schedule1": False}) == ("p_2", ())
    with pytest.raises(ProfileFormatUnknown, match="format 7"):
        surviving_statuses({"format": 7, "person_id": "p_3"})


def test_restore_replaces_the_record_of_its_kind_and_makes_a_profile_if_none() -> None:
    made = restore(None, "p_1", SCHEDULE1)
    assert (made.person_id, made.position, made.statuses) == ("p_1", 3, (SCHEDULE1,))
    weaker = Status("notification_requirements", {"by": "custody.admission"}, 2, set_by="sps")
    profile = PersonProfile("p_1", 6, statuses=(weaker,))
    restored = restore(profile, "p_1", INDEFINITE)
    assert restored.statuses == (INDEFINITE,)
    assert restored.position == 6
