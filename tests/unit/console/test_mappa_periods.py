"""The dashboard's period choices as of a moment, and what is wrong with a form, by field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.api.console.mappa_periods import DEFAULT, ChosenPeriod, chosen_period
from hub.services.latency_periods import Period

NOW = datetime(2026, 1, 20, 15, 30, tzinfo=UTC)


def day(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


@pytest.mark.parametrize(
    ("choice", "period"),
    [
        ("this-month", Period(day(2026, 1, 1), day(2026, 2, 1))),
        ("last-month", Period(day(2025, 12, 1), day(2026, 1, 1))),
        ("last-3-months", Period(day(2025, 11, 1), day(2026, 2, 1))),
        ("last-12-months", Period(day(2025, 2, 1), day(2026, 2, 1))),
    ],
)
def test_the_choices_are_calendar_months_in_utc(choice: str, period: Period) -> None:
    found = chosen_period({"period": choice}, NOW)
    assert isinstance(found, ChosenPeriod)
    assert found.period == period


def test_no_choice_is_the_default_and_its_days_fill_the_form() -> None:
    found = chosen_period({}, NOW)
    assert isinstance(found, ChosenPeriod)
    assert found.choice == DEFAULT == "last-12-months"
    assert (found.first_day, found.last_day) == ("2025-02-01", "2026-01-31")
    assert found.label == "1 February 2025 to 31 January 2026"


def test_chosen_days_include_the_whole_last_day() -> None:
    found = chosen_period({"period": "custom", "from": "2025-03-30", "to": " 2025-03-30 "}, NOW)
    assert isinstance(found, ChosenPeriod)
    # The day the clocks went forward: from midnight GMT to midnight BST, 23 hours.
    assert found.period == Period(day(2025, 3, 30), datetime(2025, 3, 30, 23, tzinfo=UTC))
    assert found.label == "30 March 2025 to 30 March 2025"


@pytest.mark.parametrize(
    ("form", "errors"),
    [
        ({"period": "yesterday"}, {"period": "Choose one of the periods listed"}),
        (
            {"period": "custom"},
            {
                "from": "Enter the first day of the period, e.g. 2026-11-01",
                "to": "Enter the last day of the period, e.g. 2026-11-01",
            },
        ),
        (
            {"period": "custom", "from": "1/2/2026", "to": "2026-02-30"},
            {
                "from": "The first day must be a date written as year-month-day, e.g. 2026-11-01",
                "to": "The last day must be a date written as year-month-day, e.g. 2026-11-01",
            },
        ),
        (
            {"period": "custom", "from": "2026-02-02", "to": "2026-02-01"},
            {"to": "The last day must be the same as or after the first day"},
        ),
        (
            {"period": "custom", "from": "1999-12-31", "to": "2026-02-01"},
            {"from": "The first day must be between 2000-01-01 and 2100-12-31"},
        ),
        (
            {"period": "custom", "from": "2000-01-01", "to": "2100-01-01"},
            {"from": "A period can be at most 20 years long"},
        ),
    ],
)
def test_a_wrong_form_says_what_is_wrong_by_field(
    form: dict[str, str], errors: dict[str, str]
) -> None:
    assert chosen_period(form, NOW) == errors


#: Half past midnight on 1 July in Scotland (British Summer Time), still 30 June in UTC.
SUMMER_MIDNIGHT = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)


def test_months_and_days_are_those_of_the_clock_in_scotland() -> None:
    this_month = chosen_period({"period": "this-month"}, SUMMER_MIDNIGHT)
    assert isinstance(this_month, ChosenPeriod)
    # July from its first moment in Scotland (23:00 UTC the day before) to August's.
    assert this_month.period == Period(
        datetime(2026, 6, 30, 23, tzinfo=UTC), datetime(2026, 7, 31, 23, tzinfo=UTC)
    )
    assert this_month.label == "1 July 2026 to 31 July 2026"
    assert (this_month.first_day, this_month.last_day) == ("2026-07-01", "2026-07-31")
    # A winter month is the same in both.
    december = chosen_period({"period": "this-month"}, datetime(2026, 12, 1, 0, 30, tzinfo=UTC))
    assert isinstance(december, ChosenPeriod)
    assert december.period == Period(day(2026, 12, 1), day(2027, 1, 1))


def test_a_chosen_day_is_a_day_in_scotland_whatever_its_length() -> None:
    summer = chosen_period({"period": "custom", "from": "2026-07-01", "to": "2026-07-01"}, NOW)
    assert isinstance(summer, ChosenPeriod)
    assert summer.period.holds(SUMMER_MIDNIGHT)
    assert not summer.period.holds(datetime(2026, 7, 1, 23, 30, tzinfo=UTC))
    # The day the clocks go back has 25 hours, and all of them are in it.
    autumn = chosen_period({"period": "custom", "from": "2026-10-25", "to": "2026-10-25"}, NOW)
    assert isinstance(autumn, ChosenPeriod)
    since, until = autumn.period.since.astimezone(UTC), autumn.period.until.astimezone(UTC)
    assert (since, until - since) == (datetime(2026, 10, 24, 23, tzinfo=UTC), timedelta(hours=25))
    assert autumn.label == "25 October 2026 to 25 October 2026"
