"""The periods the oversight dashboard offers (this month, last month, the last 3 or 12 months,
or chosen days) and reading the choice from the page's form, which names the field that is
wrong. Periods are whole days of the clock in Scotland (`UK_TIME`), as
`hub.services.latency_periods` counts months: a chosen "from" day is included from its first
moment there, a chosen "to" day up to its last (a day the clocks change is 23 or 25 hours)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from hub.services.latency_periods import UK_TIME, Period, add_months, month_start

#: The choices, in the order the form offers them: value -> label.
CHOICES = {
    "this-month": "This month",
    "last-month": "Last month",
    "last-3-months": "The last 3 months (this month and the 2 before)",
    "last-12-months": "The last 12 months (this month and the 11 before)",
    "custom": "Chosen days",
}
DEFAULT = "last-12-months"
#: The earliest day one can choose, and the longest span: enough for any oversight question,
#: and a bound on what one page reads.
EARLIEST = date(2000, 1, 1)
LONGEST = timedelta(days=20 * 366)


@dataclass(frozen=True, slots=True)
class ChosenPeriod:
    choice: str
    period: Period
    #: As typed (custom) or the period's own days, to fill in the form again.
    first_day: str
    last_day: str

    def form(self) -> dict[str, str]:
        """The period form's fields, filled in with this period."""
        return {"period": self.choice, "from": self.first_day, "to": self.last_day}

    @property
    def label(self) -> str:
        first = self.period.since.astimezone(UK_TIME).date()
        last = (self.period.until.astimezone(UK_TIME) - timedelta(days=1)).date()
        return f"{_day(first)} to {_day(last)}"


def _day(day: date) -> str:
    return f"{day.day} {day.strftime('%B %Y')}"


def _parsed(text: str, field: str, name: str) -> date | dict[str, str]:
    if not text.strip():
        return {field: f"Enter the {name} day of the period, e.g. 2026-11-01"}
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        return {field: f"The {name} day must be a date written as year-month-day, e.g. 2026-11-01"}
    if not EARLIEST <= day <= date(2100, 12, 31):
        return {field: f"The {name} day must be between 2000-01-01 and 2100-12-31"}
    return day


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UK_TIME)


def chosen_period(form: Mapping[str, str], now: datetime) -> ChosenPeriod | dict[str, str]:
    """The period the form asks for (`period`, and for chosen days `from` and `to`), or what is
    wrong, by field. No choice at all is the default."""
    choice = form.get("period", "") or DEFAULT
    if choice not in CHOICES:
        return {"period": "Choose one of the periods listed"}
    if choice == "custom":
        first = _parsed(form.get("from", ""), "from", "first")
        last = _parsed(form.get("to", ""), "to", "last")
        errors = {
            **(first if isinstance(first, dict) else {}),
            **(last if isinstance(last, dict) else {}),
        }
        if isinstance(first, dict) or isinstance(last, dict):
            return errors
        if last < first:
            return {"to": "The last day must be the same as or after the first day"}
        period = Period(_midnight(first), _midnight(last) + timedelta(days=1))
        if period.until - period.since > LONGEST:
            return {"from": "A period can be at most 20 years long"}
        return ChosenPeriod(choice, period, first.isoformat(), last.isoformat())
    return preset(choice, now)


def preset(choice: str, now: datetime) -> ChosenPeriod:
    """One of the choices other than chosen days, as of `now`."""
    months_back, months = {
        "this-month": (0, 1),
        "last-month": (1, 1),
        "last-3-months": (2, 3),
        "last-12-months": (11, 12),
    }[choice]
    since = add_months(month_start(now), -months_back)
    period = Period(since, add_months(since, months))
    last_day = (period.until - timedelta(days=1)).date()  # both in UK_TIME: the wall-clock day
    return ChosenPeriod(choice, period, since.date().isoformat(), last_day.isoformat())
