"""The default Scotland bundle loads, and every one of its own test cases passes with the hub's
real profile fold (the same run as `hub policy test`)."""

from __future__ import annotations

import json

import pytest

from hub.domain.person import apply
from hub.domain.policy import PolicyBundle
from hub.domain.schemas import SchemaRegistry
from hub.services.policy_checks import run_policy_tests
from hub.settings import PROJECT_ROOT

EVENTS = PROJECT_ROOT / "events"
SCHEMAS = SchemaRegistry.load(EVENTS)
BUNDLE = PolicyBundle.load(PROJECT_ROOT / "policies" / "scotland", SCHEMAS)
RESULTS = run_policy_tests(BUNDLE, SCHEMAS, EVENTS / "examples")


def test_the_bundle_has_cases_for_every_core_flow() -> None:
    assert len(RESULTS) >= 25
    covered = {rule for case in BUNDLE.test_cases for e in case.disclosed for rule in e.rules}
    assert len(covered) >= 20


@pytest.mark.parametrize("result", RESULTS, ids=[f"{r.file}:{r.line}" for r in RESULTS])
def test_case(result: object) -> None:
    assert getattr(result, "passed", False), "\n".join(getattr(result, "failures", []))


def test_every_recipient_role_is_in_the_directory() -> None:
    roles = {r.role for r in BUNDLE.directory.recipients.values()}
    assert {
        "social-work",
        "child-protection",
        "housing",
        "police-division",
        "police-national",
        "establishment",
        "prison-service",
        "health-board",
        "mappa-coordinator",
        "parole-board",
    } <= roles
    assert len(BUNDLE.directory.areas) == 32


def test_a_former_gss_code_reaches_the_current_area() -> None:
    """Glasgow City's code changed in 2019 (S12000046 -> S12000049): a sender still using the
    old code must not lose the notification or send it nowhere."""
    raw = json.loads((EVENTS / "examples" / "release.schedule1-notification.json").read_text())
    raw["data"]["release"]["address"]["council_area"] = "S12000046"
    notification = SCHEMAS.validate(raw)
    profile = apply(None, notification, 1, "p_test", BUNDLE.statuses).as_context(
        as_of=notification.time
    )
    permitted = {d.recipient_id for d in BUNDLE.evaluate(notification, profile).permitted}
    assert {"sw-glasgow-city", "police-division-g"} <= permitted
