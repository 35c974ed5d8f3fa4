"""The command line's literal choices (`hub.cli.choices`) are those of the modules they stand
for: the parser is built without importing them, so nothing else would notice a change."""

from __future__ import annotations

from hub.adapters import ADAPTERS
from hub.bootstrap import ROLES
from hub.cli import choices
from hub.domain.audit.entries import AuditKind
from hub.services.audit_queries import GROUNDS
from hub.services.delivery import DELIVERY_STATUSES
from hub.services.reviews import STATES


def test_the_choices_are_their_sources() -> None:
    assert choices.ROLES == ROLES
    assert choices.DELIVERY_STATUSES == DELIVERY_STATUSES
    assert choices.REVIEW_STATES == STATES
    assert tuple(kind.value for kind in AuditKind) == choices.AUDIT_KINDS
    assert tuple(sorted(GROUNDS)) == choices.RESTRICTION_GROUNDS
    assert {name: a.description for name, a in ADAPTERS.items()} == choices.ADAPTERS
