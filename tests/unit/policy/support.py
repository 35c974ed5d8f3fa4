"""Shared by the policy engine's tests: the real event schemas, the fixture bundle, example
notifications, and a small profile fold standing in for the real projection."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from hub.domain.notifications import Notification, PersonIdentifier
from hub.domain.policy import PolicyBundle
from hub.domain.policy.engine import read_bundle_files
from hub.domain.schemas import SchemaRegistry

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events"
EXAMPLES = EVENTS / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
BUNDLE = FIXTURES / "bundle"


@cache
def schemas() -> SchemaRegistry:
    return SchemaRegistry.load(EVENTS)


@cache
def bundle() -> PolicyBundle:
    return PolicyBundle.load(BUNDLE, schemas())


@cache
def bundle_files() -> Mapping[str, bytes]:
    return read_bundle_files(BUNDLE)


@cache
def _example(event_type: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / f"{event_type}.json").read_text("utf-8"))
    return loaded


def example(event_type: str, **changes: Any) -> dict[str, Any]:
    """The example notification of `event_type`; `changes` maps `data__a__b` to a new value
    (or to `...` to remove it)."""
    raw = copy.deepcopy(_example(event_type))
    for dunder, value in changes.items():
        *parents, last = dunder.split("__")
        node = raw
        for key in parents:
            node = node.setdefault(key, {})
        if value is Ellipsis:
            node.pop(last, None)
        else:
            node[last] = value
    return raw


def notification(event_type: str, **changes: Any) -> Notification:
    """The example, changed, validated against its schema."""
    return schemas().validate(example(event_type, **changes))


def unchecked(raw: Mapping[str, Any]) -> Notification:
    """A notification built without schema validation, for inputs the schemas would refuse (a
    former GSS code, a wrong type) that the engine must still handle safely."""
    return Notification(
        id=str(raw.get("id", "n-1")),
        source=str(raw.get("source", "urn:test")),
        type=str(raw["type"]),
        version=1,
        time=datetime.fromisoformat(str(raw.get("time", "2024-01-01T00:00:00+00:00"))),
        identifiers=tuple(
            sorted(PersonIdentifier(k, v) for k, v in dict(raw.get("identifiers", {})).items())
        ),
        data=raw.get("data", {}),
    )


def fold(
    previous: Mapping[str, Any] | None, notification: Notification, position: int
) -> Mapping[str, Any]:
    """A stand-in for the profile projection: enough attributes for the fixture rules."""
    profile = dict(previous or {})
    data = notification.data
    if notification.type == "custody.admission":
        profile["custody_status"] = "in-custody"
        profile["establishment"] = data["establishment"]
        profile["schedule1"] = data["schedule1_offender"]
        profile["sex_offender_registered"] = data["sex_offender_notification"]
    elif notification.type == "mappa.referral":
        profile["mappa_level"] = data["level"]
        profile["mappa_area"] = data["mappa_area"]
    elif notification.type == "licence.recall":
        profile["recalled"] = True
    return profile


# --- one rule, compiled alone: for comparing the Python evaluator with Cedar -------------------

TEST_TYPE = "custody.admission"


def rule_with(conditions: tuple[Any, ...], *, effect: str = "permit", rule_id: str = "r") -> Any:
    from hub.domain.policy.bases import LegalBasis
    from hub.domain.policy.rules import RecipientSelector, SharingRule

    return SharingRule(
        id=rule_id,
        title="a rule",
        effect="forbid" if effect == "forbid" else "permit",
        on=(TEST_TYPE,),
        when=conditions,
        share_with=(RecipientSelector("social-work"),),
        fields=("data",) if effect == "permit" else (),
        purpose="p",
        legal_basis=LegalBasis(
            controller="prison-service",
            gateway=("mosa-2005-s1",),
            regime="dpa2018-part3",
            lawful_basis="s35(2)(b)" if effect == "permit" else None,
        ),
        acknowledge_within=None,
        follows_person=False,
        file="rules/r.yaml",
        line=1,
    )


@cache
def one_recipient_directory() -> Any:
    from hub.domain.policy import Directory, Recipient

    return Directory((), [Recipient("sw", "Social work", "social-work", frozenset())])


def python_and_cedar(
    conditions: tuple[Any, ...], data: Mapping[str, Any], profile: Mapping[str, Any]
) -> tuple[bool, bool]:
    """Whether all `conditions` hold, by the Python evaluator and by Cedar, on one view."""
    from hub.domain.policy.cedar import CedarPolicies
    from hub.domain.policy.conditions import ViewShape, holds, paths_of

    shape = ViewShape(p for c in conditions for p in paths_of(c))
    event = unchecked({"type": TEST_TYPE, "data": data, "identifiers": {"pnc_id": "19/1N"}})
    view = shape.view(event, profile)
    cedar = CedarPolicies([rule_with(conditions)], one_recipient_directory())
    (outcome,) = cedar.decide(event, view, ["sw"])
    return all(holds(c, view) for c in conditions), outcome.allowed
