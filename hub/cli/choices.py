"""The values the command line offers as choices, kept here as plain literals so that building
the parser (`hub --help`, a usage error) imports none of the modules they come from, which load
the policy engine, JSON Schema and the database drivers. `tests/unit/cli/test_choices.py` holds
each equal to its source."""

from __future__ import annotations

from typing import Final

#: `hub.bootstrap.ROLES`
ROLES: Final = ("api", "relay", "router", "delivery", "all")
#: `hub.services.delivery.DELIVERY_STATUSES`
DELIVERY_STATUSES: Final = ("pending", "delivered", "dead", "cancelled")
#: `hub.services.reviews.STATES`
REVIEW_STATES: Final = ("pending", "escalated", "approved", "declined")
#: `hub.domain.audit.entries.AuditKind`, by value
AUDIT_KINDS: Final = (
    "collection",
    "alteration",
    "consultation",
    "disclosure",
    "delivery",
    "acknowledgement",
    "combination",
    "erasure",
)
#: `hub.services.audit_queries.GROUNDS`, by name
RESTRICTION_GROUNDS: Final = (
    "crime",
    "inquiry",
    "national-security",
    "public-security",
    "rights-of-others",
)
#: `hub.adapters.ADAPTERS`: name and description
ADAPTERS: Final = {
    "pr2": "Scottish Prison Service PR2: movement extracts and JSON movement messages",
    "visor": "Police Scotland ViSOR: XML messages",
    "socialwork": "Council justice social work case systems: JSON messages and CSV exports",
}
