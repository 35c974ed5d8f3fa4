"""When a directory entry is in force: `valid_from` / `valid_to` (ISO dates, `valid_to`
exclusive), read from `directory.yaml` and asked of a notification's time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final

from hub.domain.policy.rules import Problems, YamlMap

_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class Validity:
    """The dates an area or recipient is in force: from `valid_from` (inclusive, open if None)
    until `valid_to` (exclusive, open if None)."""

    valid_from: date | None = None
    valid_to: date | None = None

    def in_force(self, on: date) -> bool:
        return (self.valid_from is None or self.valid_from <= on) and (
            self.valid_to is None or on < self.valid_to
        )

    def overlaps(self, other: Validity) -> bool:
        """Whether some day is in both periods."""
        starts_before_other_ends = (
            self.valid_from is None or other.valid_to is None or self.valid_from < other.valid_to
        )
        ends_after_other_starts = (
            self.valid_to is None or other.valid_from is None or other.valid_from < self.valid_to
        )
        return starts_before_other_ends and ends_after_other_starts

    def describe(self) -> str:
        """The period in words, as problems name it."""
        start = f"from {self.valid_from.isoformat()}" if self.valid_from else "from the start"
        end = f"until {self.valid_to.isoformat()}" if self.valid_to else "with no end"
        return f"{start} {end}"


ALWAYS: Final = Validity()


def day_of(moment: datetime) -> date:
    """The calendar day (UTC) of `moment`, against which directory dates are compared; a time
    without a zone is taken as UTC."""
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(UTC).date()


def read_validity(item: YamlMap, file: str, problems: Problems) -> Validity | None:
    """The `valid_from` / `valid_to` of a directory entry; None (with the problems added) if
    either is not an ISO date or the period is empty."""
    dates: dict[str, date | None] = {}
    ok = True
    for key in ("valid_from", "valid_to"):
        if key not in item:
            dates[key] = None
            continue
        value = item.get(key)
        parsed = _parse(value)
        if parsed is None:
            problems.add(
                file, item.line_of(key), f"`{key}` must be an ISO date (YYYY-MM-DD), not `{value}`"
            )
            ok = False
        dates[key] = parsed
    if not ok:
        return None
    validity = Validity(dates["valid_from"], dates["valid_to"])
    if (
        validity.valid_from is not None
        and validity.valid_to is not None
        and validity.valid_to <= validity.valid_from
    ):
        problems.add(
            file,
            item.line_of("valid_to"),
            f"`valid_to` {validity.valid_to.isoformat()} must be after `valid_from` "
            f"{validity.valid_from.isoformat()} (`valid_to` is the first day no longer in force)",
        )
        return None
    return validity


def _parse(value: object) -> date | None:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None
