"""Disclosures the Scotland bundle leaves to case-by-case review (issue 15, MAPPA guidance 12.4):
housing hears of a release or of MAPPA material only as a proposal the disclosing side decides,
while the responsible authorities' own disclosures flow at once."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from hub.domain.notifications import Notification
from hub.domain.person import apply
from hub.domain.policy import PolicyBundle
from hub.domain.policy.engine import RecipientDecision
from hub.domain.schemas import SchemaRegistry
from hub.settings import PROJECT_ROOT

EVENTS = PROJECT_ROOT / "events"
SCHEMAS = SchemaRegistry.load(EVENTS)
BUNDLE = PolicyBundle.load(PROJECT_ROOT / "policies" / "scotland", SCHEMAS)


def _example(event_type: str, **data: Any) -> Notification:
    raw = json.loads((EVENTS / "examples" / f"{event_type}.json").read_text(encoding="utf-8"))
    raw["data"].update(data)
    return SCHEMAS.validate(raw)


def _decisions(*notifications: Notification) -> dict[str, RecipientDecision]:
    profile = None
    for position, notification in enumerate(notifications, start=1):
        profile = apply(profile, notification, position, "p_test", BUNDLE.statuses)
    last = notifications[-1]
    assert profile is not None
    view = profile.as_context(as_of=last.time)
    return {d.recipient_id: d for d in BUNDLE.evaluate(last, view).permitted}


def test_a_release_into_supported_accommodation_reaches_housing_only_once_sps_approves() -> None:
    decisions = _decisions(_example("custody.admission"), _example("custody.liberation"))

    housing = decisions["housing-glasgow-city"].review
    assert housing is not None
    assert housing.rules == ("liberation-to-housing",)
    assert housing.reviewers == ("sps",)
    assert housing.escalate_after == timedelta(days=1)
    assert decisions["sw-glasgow-city"].review is None
    assert decisions["police-division-g"].review is None


def test_mappa_material_reaches_housing_only_once_the_areas_coordinator_approves() -> None:
    decisions = _decisions(_example("mappa.referral", level=3))

    housing = decisions["housing-glasgow-city"].review
    assert housing is not None
    assert housing.rules == ("mappa-referral-to-housing",)
    assert housing.reviewers == ("mappa-glasgow",)
    assert decisions["mappa-glasgow"].review is None
    assert decisions["police-division-g"].review is None
