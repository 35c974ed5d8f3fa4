"""Running a policy bundle's own test cases with the hub's real profile fold."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hub.domain.notifications import Notification
from hub.domain.person import Authorities, PersonProfile, apply
from hub.domain.policy import PolicyBundle, TestCaseResult, run_bundle_tests
from hub.domain.policy.testing import Fold
from hub.domain.schemas import SchemaRegistry


class _ProfileContext(dict[str, Any]):
    """A profile's policy context that remembers the profile it was made from, so the next
    notification folds onto the real profile rather than onto its context."""

    profile: PersonProfile


def profile_fold(authorities: Authorities) -> Fold:
    """The fold of a test case's notifications, under the bundle's status `authorities`, each
    profile seen as of its own notification's time (as the router sees it)."""

    def fold(
        previous: Mapping[str, Any] | None, notification: Notification, position: int
    ) -> Mapping[str, Any]:
        before = previous.profile if isinstance(previous, _ProfileContext) else None
        after = apply(before, notification, position, "p_policy_test", authorities)
        context = _ProfileContext(after.as_context(as_of=notification.time))
        context.profile = after
        return context

    return fold


def run_policy_tests(
    bundle: PolicyBundle, schemas: SchemaRegistry, examples_dir: Path
) -> list[TestCaseResult]:
    return run_bundle_tests(bundle, schemas, examples_dir, profile_fold(bundle.statuses))
