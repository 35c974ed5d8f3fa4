"""The policy engine: data-sharing agreements as data (`policies/<bundle>/`), compiled to Cedar,
deciding who receives which fields of each notification, and explaining why (policies/README.md).

The engine (Cedar) and the bundle tests are imported when first asked for, not with the package:
what reads the directory alone (`hub clients …`) does not pay for compiling policies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hub.domain.policy.directory import ROLES, Area, Directory, Recipient
from hub.domain.policy.rules import PROFILE_ATTRIBUTES, RecipientSelector, SharingRule

if TYPE_CHECKING:
    from hub.domain.policy.engine import (
        Evaluation,
        PolicyBundle,
        RecipientDecision,
        bundle_version,
    )
    from hub.domain.policy.testing import TestCaseResult, run_bundle_tests

#: The names of the package's heavier modules, by the module that defines them.
_LAZY = {
    "Evaluation": "engine",
    "PolicyBundle": "engine",
    "RecipientDecision": "engine",
    "bundle_version": "engine",
    "TestCaseResult": "testing",
    "run_bundle_tests": "testing",
}

__all__ = [
    "PROFILE_ATTRIBUTES",
    "ROLES",
    "Area",
    "Directory",
    "Evaluation",
    "PolicyBundle",
    "Recipient",
    "RecipientDecision",
    "RecipientSelector",
    "SharingRule",
    "TestCaseResult",
    "bundle_version",
    "run_bundle_tests",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
