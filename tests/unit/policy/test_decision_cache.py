"""The engine remembers decisions (`decision_cache.py`): a remembered decision must be the one
the engine would make afresh, for any notification, profile, day and records-follow target.

Randomised: notifications of every event type with the areas, establishments, profile and day
drawn from small pools (so that views recur, across the directory's date boundaries), decided by
one bundle that remembers and again, from scratch, by the uncached path (`_evaluate`)."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

import pytest

from hub.domain.notifications import Notification
from hub.domain.policy import PolicyBundle
from hub.domain.policy.decision_cache import DecisionCache, DirectoryEpochs
from hub.settings import PROJECT_ROOT

from .support import EXAMPLES, example, schemas, unchecked

_GSS = re.compile(r"S12[0-9]{6}")


@cache
def scotland() -> PolicyBundle:
    return PolicyBundle.load(PROJECT_ROOT / "policies" / "scotland", schemas())


def _fresh() -> PolicyBundle:
    """Another bundle of the same files: a cache of its own, empty."""
    return PolicyBundle.load(PROJECT_ROOT / "policies" / "scotland", schemas())


class _Draws:
    """Random notifications, profiles and days over small pools of the directory's values."""

    def __init__(self, policy: PolicyBundle, seed: int) -> None:
        self.rng = random.Random(seed)
        directory = policy.directory
        codes = {c for r in directory.recipients.values() for c in directory.codes_of(r)}
        self.areas = [*sorted(codes)[:4], "S12000999"]  # and a code no area has
        self.establishments = [r.id for r in directory.by_role("establishment")][:3]
        self.types = sorted(p.stem for p in EXAMPLES.glob("*.json"))
        bounds = DirectoryEpochs(directory)._boundaries
        self.days = [date(2016, 1, 1), date(2030, 1, 1)] + [
            b + timedelta(days=d) for b in bounds for d in (-1, 0, 1)
        ]

    def value(self, value: Any) -> Any:
        """`value` with every area code and establishment in it redrawn from the pools."""
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, str) and _GSS.fullmatch(value):
            return self.rng.choice(self.areas)
        if isinstance(value, str) and value.startswith("hmp-"):
            return self.rng.choice(self.establishments)
        return value

    def notification(self, number: int) -> Notification:
        raw = self.value(example(self.rng.choice(self.types)))
        day = self.rng.choice(self.days)
        raw["time"] = datetime(day.year, day.month, day.day, 12, tzinfo=UTC).isoformat()
        raw["id"] = f"n-{number}"
        return unchecked(raw)

    def profile(self) -> dict[str, Any]:
        pick = self.rng.choice
        drawn = {
            "custody_status": pick(["in-custody", "in-community", "unknown"]),
            "establishment": pick(self.establishments),
            "mappa_level": pick([1, 2, 3]),
            "mappa_area": pick(self.areas),
            "home_area": pick(self.areas),
            "release_area": pick(self.areas),
            "supervising_area": pick(self.areas),
            "schedule1": pick([True, False]),
            "sex_offender_registered": pick([True, False]),
            "health_consent": pick([True, False]),
        }
        return {k: v for k, v in drawn.items() if self.rng.random() < 0.7}


@pytest.mark.parametrize("seed", range(6))
def test_remembered_decisions_are_those_made_afresh(seed: int) -> None:
    policy = _fresh()
    draws = _Draws(policy, seed)
    seen: list[tuple[Notification, dict[str, Any], str | None]] = []
    hits = 0
    for number in range(150):
        if seen and draws.rng.random() < 0.3:
            # The same view again, on another notification (another id, day or data).
            earlier, profile, follows = draws.rng.choice(seen)
            again = draws.notification(number)
            n = Notification(
                id=again.id,
                source=earlier.source,
                type=earlier.type,
                version=earlier.version,
                time=again.time,
                identifiers=earlier.identifiers,
                data=earlier.data,
            )
        else:
            n, profile = draws.notification(number), draws.profile()
            follows = draws.rng.choice([None, None, *draws.establishments])
        before = len(policy._decided)
        remembered = policy.evaluate(n, profile, follows_person_to=follows)
        hits += len(policy._decided) == before
        afresh, _ = scotland()._evaluate(n, profile, follows)
        assert remembered == afresh, (n, profile, follows)
        seen.append((n, profile, follows))
    assert hits > 0  # the comparison covered remembered decisions, not only new ones


def test_a_full_cache_forgets_the_oldest_entry_first() -> None:
    cache_: DecisionCache[int] = DecisionCache(2)
    cache_.put("a", 1)
    cache_.put("b", 2)
    cache_.put("c", 3)
    assert (cache_.get("a"), cache_.get("b"), cache_.get("c"), len(cache_)) == (None, 2, 3, 2)
    with pytest.raises(ValueError, match="at least one"):
        DecisionCache(0)


@pytest.mark.parametrize("seed", range(3))
def test_days_of_one_epoch_see_the_same_directory(seed: int) -> None:
    directory = scotland().directory
    epochs = DirectoryEpochs(directory)
    rng = random.Random(seed)
    entries = [a.validity for a in directory.areas.values()] + [
        r.validity for r in directory.recipients.values()
    ]
    assert any(v.valid_from or v.valid_to for v in entries)  # the bundle has dated entries
    by_epoch: dict[int, tuple[bool, ...]] = {}
    days = [date(2015, 1, 1) + timedelta(days=rng.randrange(365 * 16)) for _ in range(400)]
    days += [b + timedelta(days=d) for b in epochs._boundaries for d in (-1, 0)]
    for day in days:
        in_force = tuple(v.in_force(day) for v in entries)
        assert by_epoch.setdefault(epochs.epoch(day), in_force) == in_force, day
