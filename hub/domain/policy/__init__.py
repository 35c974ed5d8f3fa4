"""The policy engine: data-sharing agreements as data (`policies/<bundle>/`), compiled to Cedar,
deciding who receives which fields of each notification, and explaining why (policies/README.md).
"""

from hub.domain.policy.directory import ROLES, Area, Directory, Recipient
from hub.domain.policy.engine import (
    Evaluation,
    PolicyBundle,
    RecipientDecision,
    bundle_version,
)
from hub.domain.policy.rules import PROFILE_ATTRIBUTES, RecipientSelector, SharingRule
from hub.domain.policy.testing import TestCaseResult, run_bundle_tests

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
