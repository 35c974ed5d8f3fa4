"""Directory entries with dates: `valid_from` / `valid_to` read at file:line, overlaps refused,
and recipients resolved as the directory stood on a notification's day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from hub.domain.policy import PolicyBundle
from hub.domain.policy.directory import Directory
from hub.domain.policy.validity import Validity, day_of

from .support import bundle_files, schemas
from .test_directory import directory_problems

DATED = """\
areas:
  - gss: S12000049
    name: Glasgow City
  - gss: S12000047
    name: Fife
    valid_to: 2030-01-01
recipients:
  - id: mappa-old
    name: Old MAPPA area
    role: mappa-coordinator
    areas: [S12000049, S12000047]
    valid_to: 2017-04-01
  - id: mappa-glasgow
    name: Glasgow MAPPA
    role: mappa-coordinator
    areas: [S12000049]
    valid_from: 2017-04-01
  - id: mappa-fife
    name: Fife MAPPA
    role: mappa-coordinator
    areas: [S12000047]
    valid_from: 2017-04-01
  - id: parole-board
    name: Parole Board
    role: parole-board
    valid_from: 2001-01-01
"""


def dated_directory() -> Directory:
    files = {
        **{k: v for k, v in bundle_files().items() if not k.startswith("tests/")},
        "directory.yaml": DATED.encode(),
    }
    return PolicyBundle.from_files(files, schemas(), origin="b").directory


# --- the period -----------------------------------------------------------------------------------


def test_valid_from_is_inclusive_and_valid_to_exclusive() -> None:
    period = Validity(date(2017, 4, 1), date(2026, 8, 1))
    assert not period.in_force(date(2017, 3, 31))
    assert period.in_force(date(2017, 4, 1))
    assert period.in_force(date(2026, 7, 31))
    assert not period.in_force(date(2026, 8, 1))
    assert Validity().in_force(date(1900, 1, 1))


def test_a_day_is_the_utc_date_of_the_time() -> None:
    bst = timezone(timedelta(hours=1))
    assert day_of(datetime(2026, 8, 1, 0, 30, tzinfo=bst)) == date(2026, 7, 31)
    assert day_of(datetime(2026, 8, 1, 0, 30, tzinfo=UTC)) == date(2026, 8, 1)
    assert day_of(datetime(2026, 8, 1, 0, 30)) == date(2026, 8, 1)


_DAYS = st.one_of(st.none(), st.dates(date(2000, 1, 1), date(2000, 3, 1)))


@st.composite
def periods(draw: st.DrawFn) -> Validity:
    start, end = draw(_DAYS), draw(_DAYS)
    if start is not None and end is not None and end <= start:
        start, end = end, start + timedelta(days=1) if end == start else start
    return Validity(start, end)


@given(periods(), periods())
def test_two_periods_overlap_exactly_when_some_day_is_in_both(a: Validity, b: Validity) -> None:
    days = [date(1999, 12, 30) + timedelta(days=n) for n in range(70)]
    shared = any(a.in_force(d) and b.in_force(d) for d in days)
    assert a.overlaps(b) == b.overlaps(a) == shared


# --- reading dates --------------------------------------------------------------------------------


def test_dates_are_read_onto_areas_and_recipients() -> None:
    directory = dated_directory()
    assert directory.areas["S12000047"].validity == Validity(None, date(2030, 1, 1))
    assert directory.recipients["mappa-old"].validity == Validity(None, date(2017, 4, 1))
    assert directory.recipients["mappa-fife"].validity == Validity(date(2017, 4, 1), None)
    assert directory.recipients["parole-board"].validity == Validity(date(2001, 1, 1), None)


def test_bad_dates_are_reported_at_their_lines() -> None:
    text = (
        DATED.replace("valid_to: 2030-01-01", "valid_to: 1 Jan 2030")  # Fife, line 6
        .replace("valid_to: 2017-04-01", "valid_to: 2017-13-01")  # mappa-old, line 12
        .replace("valid_from: 2017-04-01", "valid_from: 20170401", 1)  # mappa-glasgow, 17
        .replace("valid_from: 2001-01-01\n", "valid_from: 2001-01-01\n    valid_to: 2001-01-01\n")
    )
    assert directory_problems(text) == [
        "b/directory.yaml:6: `valid_to` must be an ISO date (YYYY-MM-DD), not `1 Jan 2030`",
        "b/directory.yaml:12: `valid_to` must be an ISO date (YYYY-MM-DD), not `2017-13-01`",
        "b/directory.yaml:17: `valid_from` must be an ISO date (YYYY-MM-DD), not `20170401`",
        "b/directory.yaml:27: `valid_to` 2001-01-01 must be after `valid_from` 2001-01-01 "
        "(`valid_to` is the first day no longer in force)",
    ]


def test_two_coordinators_serving_one_area_on_the_same_days_are_refused() -> None:
    text = DATED.replace(
        "    areas: [S12000049]\n    valid_from: 2017-04-01\n",
        "    areas: [S12000049]\n    valid_from: 2017-03-01\n",
    )
    assert directory_problems(text) == [
        "b/directory.yaml:13: `mappa-glasgow` and `mappa-old` (line 8) both serve S12000049 "
        "(Glasgow City) as mappa-coordinator on the same days: `mappa-glasgow` is in force from "
        "2017-03-01 with no end, `mappa-old` from the start until 2017-04-01; give them "
        "`valid_from` / `valid_to` that do not overlap"
    ]


def test_recipients_of_other_roles_may_share_an_area() -> None:
    text = DATED + (
        "  - id: hmp-a\n    name: A\n    role: establishment\n    areas: [S12000049]\n"
        "  - id: hmp-b\n    name: B\n    role: establishment\n    areas: [S12000049]\n"
    )
    files = {
        **{k: v for k, v in bundle_files().items() if not k.startswith("tests/")},
        "directory.yaml": text.encode(),
    }
    directory = PolicyBundle.from_files(files, schemas(), origin="b").directory
    assert [r.id for r in directory.serving("establishment", "S12000049")] == ["hmp-a", "hmp-b"]


def test_a_recipient_may_not_serve_an_area_only_outside_the_areas_dates() -> None:
    text = DATED.replace(
        "    areas: [S12000047]\n    valid_from: 2017-04-01\n",
        "    areas: [S12000047]\n    valid_from: 2031-04-01\n",
    )
    assert directory_problems(text) == [
        "b/directory.yaml:21: S12000047 (Fife) is in force from the start until 2030-01-01: "
        "never while this recipient is (from 2031-04-01 with no end)"
    ]


# --- resolution as of a day -----------------------------------------------------------------------


def test_serving_on_a_day_names_the_recipients_in_force_that_day() -> None:
    directory = dated_directory()
    before, after = date(2017, 3, 31), date(2017, 4, 1)
    assert [r.id for r in directory.serving("mappa-coordinator", "S12000049", on=before)] == [
        "mappa-old"
    ]
    assert [r.id for r in directory.serving("mappa-coordinator", "S12000049", on=after)] == [
        "mappa-glasgow"
    ]
    # Without a day, every recipient that ever served the area (as publisher binding asks).
    assert [r.id for r in directory.serving("mappa-coordinator", "S12000049")] == [
        "mappa-glasgow",
        "mappa-old",
    ]


def test_an_area_no_longer_in_force_is_served_by_nobody() -> None:
    directory = dated_directory()
    assert [
        r.id for r in directory.serving("mappa-coordinator", "S12000047", on=date(2029, 12, 31))
    ] == ["mappa-fife"]
    assert directory.serving("mappa-coordinator", "S12000047", on=date(2030, 1, 1)) == []


def test_get_and_by_role_on_a_day() -> None:
    directory = dated_directory()
    assert directory.get("mappa-old", on=date(2018, 1, 1)) is None
    assert directory.get("mappa-old", on=date(2016, 1, 1)) is not None
    assert directory.get("mappa-old") is not None
    assert directory.by_role("parole-board", on=date(2000, 12, 31)) == []
    assert [r.id for r in directory.by_role("parole-board", on=date(2001, 1, 1))] == [
        "parole-board"
    ]
