"""Running a policy bundle's own test cases with the hub's real profile fold."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hub.domain.notifications import Notification
from hub.domain.policy import PolicyBundle, TestCaseResult, run_bundle_tests
from hub.domain.profile import PersonProfile, apply
from hub.domain.schemas import SchemaRegistry


class _ProfileContext(dict[str, Any]):
    """A profile's policy context that remembers the profile it was made from, so the next
    notification folds onto the real profile rather than onto its context."""

    profile: PersonProfile


def _fold(
    previous: Mapping[str, Any] | None, notification: Notification, position: int
) -> Mapping[str, Any]:
    before = previous.profile if isinstance(previous, _ProfileContext) else None
    after = apply(before, notification, position, "p_policy_test")
    context = _ProfileContext(after.as_context())
    context.profile = after
    return context


def run_policy_tests(
    bundle: PolicyBundle, schemas: SchemaRegistry, examples_dir: Path
) -> list[TestCaseResult]:
    return run_bundle_tests(bundle, schemas, examples_dir, _fold)
